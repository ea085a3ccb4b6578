-- leg_commit: follow the header's commit; a committed leg never expires. Its open lines
-- enter the committed index (what re-sourcing moves when a position falls short), in the
-- order of its commit time ct, stamped here.
-- KEYS[1] leg  KEYS[2] partition expiry index  KEYS[3] partition committed index
-- ARGV[1] reservation id  [2] now_ms (0 = server time): the commit time of the index
-- returns {'applied'} | {'noop', state}
redis.call('ZREM', KEYS[2], 'l:' .. ARGV[1])
local leg = redis.call('HMGET', KEYS[1], 'st', 'n')
if leg[1] ~= 'held' then return {'noop', leg[1] or ''} end
local ct, ct_text = clock_ms(ARGV[2])
local n = tonumber(leg[2])
redis.call('HSET', KEYS[1], 'st', 'committed', 'ct', ct_text)
index_sync(KEYS[3], ARGV[1], ct, n, read_lines(KEYS[1], n))
return {'applied'}
