-- header_commit: the point of no return. A hold past its deadline can no longer commit.
-- KEYS[1] header  KEYS[2] home partition stream  KEYS[3] home partition expiry index
-- ARGV[1] reservation id  [2] now_ms  [3] stream maxlen
-- returns {'applied', parts} | {'duplicate', parts} | {'expired', parts} |
--         {'illegal', state} | {'not_found'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid = ARGV[1]
local now, now_text = clock_ms(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'st', 'exp', 'parts')
if not h[1] then return {'not_found'} end
if h[1] == 'committed' then return {'duplicate', h[3]} end
if h[1] == 'expired' or (h[1] == 'held' and now >= tonumber(h[2])) then
  return {'expired', h[3]}
end
if h[1] ~= 'held' then return {'illegal', h[1]} end
redis.call('HSET', KEYS[1], 'st', 'committed')
redis.call('ZREM', KEYS[3], 'h:' .. rid)
emit({stream = KEYS[2], maxlen = ARGV[3], now = now_text, type = 'reservation_committed',
  rid = rid, reason = 'committed'})
return {'applied', h[3]}
