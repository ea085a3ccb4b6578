-- reserve_leg: hold every line of one partition, or none (the cluster path: one call per
-- partition, then header_create).
-- KEYS[1] leg  KEYS[2] partition stream  KEYS[3] partition expiry index
-- KEYS[3+i] position of line i
-- ARGV[1] reservation id  [2] digest of the whole request  [3] channel
--     [4] allow_safety ('1' for the store counter)  [5] now_ms (0 = server time)
--     [6] leg deadline offset ms (ttl + grace: the header, not the leg, decides expiry)
--     [7] stream maxlen  then per line: sku, location, qty
-- returns {'reserved', {sku, location, oh, rs, sf, in per line}} | {'already_exists', state} |
--         {'conflict'} |
--         {'insufficient', sku, location, requested, available, ...}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them. The
--     script's own ARGV are the first nargs.
local nargs = take_actor()
local existing = redis.call('HMGET', KEYS[1], 'd', 'st')
if existing[1] then
  if existing[1] == ARGV[2] then return {'already_exists', existing[2]} end
  return {'conflict'}
end
-- The leg arrives at KEYS[1] and its lines after ARGV[7] (reservations/lua/_prelude.lua).
local n = (nargs - 7) / 3
local reads, short = {}, {}
leg_check(1, 7, n, ARGV[4] == '1', reads, short)
if #short > 0 then
  table.insert(short, 1, 'insufficient')
  return short
end
local now, now_text = clock_ms(ARGV[5])
local out = {}
leg_hold(1, 7, n, reads, 0, {rid = ARGV[1], digest = ARGV[2], channel = ARGV[3],
  now = now_text, deadline = int_text(now + tonumber(ARGV[6])), maxlen = ARGV[7], out = out})
return {'reserved', out}
