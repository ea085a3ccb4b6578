-- leg_commit: follow the header's commit; a committed leg never expires.
-- KEYS[1] leg  KEYS[2] partition expiry index
-- ARGV[1] reservation id
-- returns {'applied'} | {'noop', state}
redis.call('ZREM', KEYS[2], 'l:' .. ARGV[1])
local state = redis.call('HGET', KEYS[1], 'st')
if state ~= 'held' then return {'noop', state or ''} end
redis.call('HSET', KEYS[1], 'st', 'committed')
return {'applied'}
