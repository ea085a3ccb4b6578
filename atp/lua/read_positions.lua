-- read_positions: many positions (and optionally their incoming supply) in one call.
-- KEYS position keys, then (when ARGV[1] == '1') the matching incoming supply hashes
-- ARGV[1] with_supply ('1' | '0')
-- returns {flat {oh, rs, sf, in} per position, {HGETALL of each supply hash} | {}}
local with_supply = ARGV[1] == '1'
local n = with_supply and (#KEYS / 2) or #KEYS
local flat = {}
for i = 1, n do
  local p = read_pos(KEYS[i])
  flat[#flat + 1] = p[1]; flat[#flat + 1] = p[2]; flat[#flat + 1] = p[3]; flat[#flat + 1] = p[4]
end
local supplies = {}
if with_supply then
  for i = 1, n do supplies[i] = redis.call('HGETALL', KEYS[n + i]) end
end
return {flat, supplies}
