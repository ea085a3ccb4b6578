-- shortage_clear: drop a position from the shortage set once it is no longer short, in one
-- step with the check (a stock change may make it short again at any moment).
-- KEYS[1] partition shortage set  KEYS[2] position
-- ARGV[1] member '<loc>|<sku>'
-- returns {'cleared'} | {'short', reserved - on hand}
local p = read_position(KEYS[2])
if p[2] > p[1] then return {'short', p[2] - p[1]} end
redis.call('SREM', KEYS[1], ARGV[1])
return {'cleared'}
