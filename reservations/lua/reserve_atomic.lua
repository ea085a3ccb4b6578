-- reserve_atomic: every leg and the header in one step. Only where one script may touch
-- several hash slots (a single Redis); a cluster takes reserve_leg per partition instead.
-- The outcome equals the cluster path's, minus the reserve-then-roll-back events of legs
-- that path writes before it learns another leg is short.
-- KEYS[1] header  KEYS[2] home partition stream  KEYS[3] home partition expiry index
--     then per leg: leg, partition stream, partition expiry index, one position per line
-- ARGV[1] reservation id  [2] digest  [3] channel  [4] allow_safety ('1' store)
--     [5] now_ms  [6] ttl_ms  [7] leg grace ms  [8] stream maxlen  [9] leg partitions (csv)
--     [10] retention_s  then per leg: line count, then per line: sku, location, qty
-- returns {'held', expires_ms, {sku, location, oh, rs, sf, in per line held}} |
--         {'already_exists', state, expires_ms} | {'conflict'} |
--         {'aborted'} | {'insufficient', sku, location, requested, available, ...}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them. The
--     script's own ARGV are the first nargs.
local nargs = take_actor()
local rid, digest, channel, now = ARGV[1], ARGV[2], ARGV[3], clock_ms(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'st', 'd', 'exp')
if h[1] then
  if h[1] == 'aborted' then return {'aborted'} end
  if h[2] ~= digest then return {'conflict'} end
  return {'already_exists', h[1], tonumber(h[3])}
end
local legs, ai, ki = {}, 11, 4
while ai <= nargs do
  local leg = {key = KEYS[ki], stream = KEYS[ki + 1], expiry = KEYS[ki + 2], lines = {}, keys = {}}
  ki = ki + 3
  for i = 1, tonumber(ARGV[ai]) do
    leg.lines[i] = {sku = ARGV[ai + 3 * i - 2], loc = ARGV[ai + 3 * i - 1],
                    qty = tonumber(ARGV[ai + 3 * i]), key = KEYS[ki]}
    leg.keys[i] = KEYS[ki]
    ki = ki + 1
  end
  ai = ai + 1 + 3 * #leg.lines
  legs[#legs + 1] = leg
end
-- A leg with no header was left by an attempt that died midway (possible only if this
-- database was also driven by the cluster path); same digest: reuse it, else conflict.
local short = {}
for _, leg in ipairs(legs) do
  local existing = redis.call('HMGET', leg.key, 'd', 'st')
  if existing[1] and existing[1] ~= digest then return {'conflict'} end
  leg.stale = existing[1] ~= false and existing[1] ~= nil
  leg.stale_held = leg.stale and existing[2] == 'held'
  if not leg.stale then leg.before = leg_check(leg.lines, ARGV[4] == '1', short) end
end
if #short > 0 then
  for _, leg in ipairs(legs) do
    if leg.stale_held then
      leg_unhold(leg.key, leg.stream, leg.expiry, leg.keys, rid, now, ARGV[8], ARGV[10],
        'rolled_back')
    end
  end
  table.insert(short, 1, 'insufficient')
  return short
end
local r = {rid = rid, digest = digest, channel = channel, now = now, maxlen = ARGV[8],
  deadline = now + tonumber(ARGV[6]) + tonumber(ARGV[7]), out = {}}
for _, leg in ipairs(legs) do
  if not leg.stale then leg_hold(leg, leg.before, r) end
end
local expires = now + tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'st', 'held', 'd', digest, 'ch', channel, 'exp', expires,
  'ts', now, 'parts', ARGV[9])
redis.call('ZADD', KEYS[3], expires, 'h:' .. rid)
emit({stream = KEYS[2], maxlen = ARGV[8], now = now, type = 'reservation_held', rid = rid,
  reason = channel})
return {'held', expires, r.out}
