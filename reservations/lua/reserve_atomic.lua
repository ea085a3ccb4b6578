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
local rid, digest, channel = ARGV[1], ARGV[2], ARGV[3]
local now, now_text = clock_ms(ARGV[5])
-- Where each leg arrives (reservations/lua/_prelude.lua): legs[j], legs[j + 1], legs[j + 2]
-- are its KEYS index k, its ARGV index a and its line count, for j = 1, 4, 7, ...
local legs, named = {}, {KEYS[1]}
local k, a = 4, 11
while a <= nargs do
  local n = tonumber(ARGV[a])
  legs[#legs + 1] = k; legs[#legs + 1] = a; legs[#legs + 1] = n
  named[#named + 1] = KEYS[k]
  k, a = k + 3 + n, a + 1 + 3 * n
end
-- One EXISTS over the header and every leg: a first attempt, nearly every call, finds none.
-- A header means a retry, answered from it. A leg with no header was left by an attempt
-- that died midway (possible only if this database was also driven by the cluster path);
-- same digest: reuse it (stale[j] holds its state), else conflict.
local stale = {}
if redis.call('EXISTS', unpack(named)) > 0 then
  local h = redis.call('HMGET', KEYS[1], 'st', 'd', 'exp')
  if h[1] then
    if h[1] == 'aborted' then return {'aborted'} end
    if h[2] ~= digest then return {'conflict'} end
    return {'already_exists', h[1], tonumber(h[3])}
  end
  for j = 1, #legs, 3 do
    local existing = redis.call('HMGET', KEYS[legs[j]], 'd', 'st')
    if existing[1] and existing[1] ~= digest then return {'conflict'} end
    stale[j] = existing[2]
  end
end
local reads, short, allow_safety = {}, {}, ARGV[4] == '1'
for j = 1, #legs, 3 do
  if not stale[j] then leg_check(legs[j], legs[j + 1], legs[j + 2], allow_safety, reads, short) end
end
if #short > 0 then
  for j = 1, #legs, 3 do
    if stale[j] == 'held' then
      leg_unhold(legs[j], rid, now_text, ARGV[8], ARGV[10], 'rolled_back')
    end
  end
  table.insert(short, 1, 'insufficient')
  return short
end
local expires = int_text(now + tonumber(ARGV[6]))
local r = {rid = rid, digest = digest, channel = channel, now = now_text, maxlen = ARGV[8],
  deadline = int_text(now + tonumber(ARGV[6]) + tonumber(ARGV[7])), out = {}}
local at = 0  -- reads of the legs held so far
for j = 1, #legs, 3 do
  if not stale[j] then
    leg_hold(legs[j], legs[j + 1], legs[j + 2], reads, at, r)
    at = at + legs[j + 2]
  end
end
redis.call('HSET', KEYS[1], 'st', 'held', 'd', digest, 'ch', channel, 'exp', expires,
  'ts', now_text, 'parts', ARGV[9])
redis.call('ZADD', KEYS[3], expires, 'h:' .. rid)
emit_held(KEYS[2], ARGV[8], now_text, rid, channel, digest, expires, ARGV[9])
return {'held', expires, r.out}
