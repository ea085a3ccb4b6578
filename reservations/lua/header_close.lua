-- header_close: every unit of a held or committed reservation is fulfilled or released.
-- KEYS[1] header  KEYS[2] home partition stream  KEYS[3] home partition expiry index
-- ARGV[1] reservation id  [2] final state: 'fulfilled' | 'released'  [3] now_ms
--     [4] stream maxlen  [5] retention_s
-- returns {'applied'} | {'noop', state}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, final = ARGV[1], ARGV[2]
local _, now_text = clock_ms(ARGV[3])
local state = redis.call('HGET', KEYS[1], 'st')
if state ~= 'held' and state ~= 'committed' then return {'noop', state or ''} end
redis.call('HSET', KEYS[1], 'st', final)
redis.call('ZREM', KEYS[3], 'h:' .. rid)
redis.call('EXPIRE', KEYS[1], ARGV[5])
emit({stream = KEYS[2], maxlen = ARGV[4], now = now_text, type = 'reservation_' .. final,
  rid = rid, reason = final})
return {'applied'}
