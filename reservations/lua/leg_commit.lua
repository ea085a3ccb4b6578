-- leg_commit: follow the header's commit; a committed leg never expires. Its open lines
-- enter the committed index (what re-sourcing moves when a position falls short).
-- KEYS[1] leg  KEYS[2] partition expiry index  KEYS[3] partition committed index
-- ARGV[1] reservation id  [2] now_ms (0 = server time): the commit time of the index
-- returns {'applied'} | {'noop', state}
redis.call('ZREM', KEYS[2], 'l:' .. ARGV[1])
local state = redis.call('HGET', KEYS[1], 'st')
if state ~= 'held' then return {'noop', state or ''} end
redis.call('HSET', KEYS[1], 'st', 'committed')
index_sync(KEYS[1], KEYS[3], ARGV[1], clock_ms(ARGV[2]))
return {'applied'}
