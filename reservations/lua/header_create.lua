-- header_create: record a reservation whose legs all hold; from here it is held.
-- KEYS[1] header  KEYS[2] home partition stream  KEYS[3] home partition expiry index
-- ARGV[1] reservation id  [2] digest  [3] channel  [4] now_ms  [5] ttl_ms
--     [6] leg partitions, comma-separated  [7] stream maxlen
-- Header hash: st d ch exp (deadline ms) ts (created ms) parts
-- returns {'held', expires_ms} | {'already_exists', state, expires_ms} | {'conflict'} | {'aborted'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, digest = ARGV[1], ARGV[2]
local now, now_text = clock_ms(ARGV[4])
local existing = redis.call('HMGET', KEYS[1], 'st', 'd', 'exp')
if existing[1] then
  if existing[1] == 'aborted' then return {'aborted'} end
  if existing[2] ~= digest then return {'conflict'} end
  return {'already_exists', existing[1], tonumber(existing[3])}
end
local expires = int_text(now + tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'st', 'held', 'd', digest, 'ch', ARGV[3], 'exp', expires,
  'ts', now_text, 'parts', ARGV[6])
redis.call('ZADD', KEYS[3], expires, 'h:' .. rid)
emit_held(KEYS[2], ARGV[7], now_text, rid, ARGV[3], digest, expires, ARGV[6])
return {'held', expires}
