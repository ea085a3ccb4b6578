-- read_positions: many positions (and optionally their incoming supply) in one call.
-- KEYS position keys, then (when ARGV[1] == '1') the matching incoming supply hashes
-- ARGV[1] with_supply ('1' | '0')
-- returns {flat {oh, rs, sf, in, os} per position, {HGETALL of each supply hash} | {}}
-- (os: units registers oversold there, atp/register_events.py)
local with_supply = ARGV[1] == '1'
local n = with_supply and (#KEYS / 2) or #KEYS
local flat = {}
for i = 1, n do
  local v = redis.call('HMGET', KEYS[i], 'oh', 'rs', 'sf', 'in', 'os')
  for f = 1, 5 do flat[#flat + 1] = tonumber(v[f]) or 0 end
end
local supplies = {}
if with_supply then
  for i = 1, n do supplies[i] = redis.call('HGETALL', KEYS[n + i]) end
end
return {flat, supplies}
