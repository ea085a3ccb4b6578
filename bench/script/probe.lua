-- probe: what one redis.call costs inside a script. Runs ARGV[1] times one command;
-- bench.script subtracts the same loop doing no command ('none').
-- KEYS[1] a position hash  KEYS[2] a stream
-- ARGV[1] n  [2] 'none' | 'hget' | 'hmget4' | 'hset4' | 'xadd'  [3] stream maxlen
--     [4..] for 'xadd': the entry's field, value pairs
local n, op = tonumber(ARGV[1]), ARGV[2]
if op == 'hget' then
  for _ = 1, n do redis.call('HGET', KEYS[1], 'oh') end
elseif op == 'hmget4' then
  for _ = 1, n do redis.call('HMGET', KEYS[1], 'oh', 'rs', 'sf', 'in') end
elseif op == 'hset4' then
  for i = 1, n do redis.call('HSET', KEYS[1], 'oh', 7, 'rs', i, 'sf', 0, 'in', 0) end
elseif op == 'xadd' then
  local fields = {}
  for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
  for _ = 1, n do redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields)) end
else
  local x = 0
  for i = 1, n do x = x + i end
end
return n
