-- header_extend: move a live hold's deadline to now + ttl (payment is slow).
-- KEYS[1] header  KEYS[2] home partition stream  KEYS[3] home partition expiry index
-- ARGV[1] reservation id  [2] now_ms  [3] ttl_ms  [4] stream maxlen
-- returns {'applied', expires_ms} | {'expired'} | {'illegal', state} | {'not_found'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, now = ARGV[1], clock_ms(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'st', 'exp')
if not h[1] then return {'not_found'} end
if h[1] == 'expired' or (h[1] == 'held' and now >= tonumber(h[2])) then return {'expired'} end
if h[1] ~= 'held' then return {'illegal', h[1]} end
local expires = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'exp', expires)
redis.call('ZADD', KEYS[3], expires, 'h:' .. rid)
emit({stream = KEYS[2], maxlen = ARGV[4], now = now, type = 'reservation_extended', rid = rid,
  reason = tostring(expires)})
return {'applied', expires}
