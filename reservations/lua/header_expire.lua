-- header_expire: a held reservation past its deadline becomes expired, exactly once.
-- KEYS[1] header  KEYS[2] home partition stream  KEYS[3] home partition expiry index
-- ARGV[1] reservation id  [2] now_ms  [3] stream maxlen  [4] retention_s
-- returns {'applied', parts} | {'not_due', expires_ms} | {'noop', state, parts} | {'not_found'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, now = ARGV[1], clock_ms(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'st', 'exp', 'parts')
if not h[1] then
  redis.call('ZREM', KEYS[3], 'h:' .. rid)
  return {'not_found'}
end
if h[1] ~= 'held' then
  redis.call('ZREM', KEYS[3], 'h:' .. rid)
  return {'noop', h[1], h[3]}
end
if now < tonumber(h[2]) then return {'not_due', tonumber(h[2])} end
redis.call('HSET', KEYS[1], 'st', 'expired')
redis.call('ZREM', KEYS[3], 'h:' .. rid)
redis.call('EXPIRE', KEYS[1], ARGV[4])
emit({stream = KEYS[2], maxlen = ARGV[3], now = now, type = 'reservation_expired', rid = rid,
  reason = 'expired'})
return {'applied', h[3]}
