-- register_oversold: the units registers oversold at each position (field os), in one call.
-- KEYS position keys   ARGV none
-- returns one integer per key (0 when never oversold)
local out = {}
for i = 1, #KEYS do out[i] = tonumber(redis.call('HGET', KEYS[i], 'os')) or 0 end
return out
