-- minimal_reserve: about the least a hold of N lines must ask of one Redis, the yardstick
-- bench.script puts beside reserve_atomic. Not the engine's script: no leg hashes, no
-- position after the hold in the reply, one event for the whole hold.
-- 11 redis.calls for 3 lines: TIME, the idempotency check (EXISTS), read N positions,
-- write N (HINCRBY), one XADD, the header HSET, its deadline ZADD.
-- KEYS[1] header  KEYS[2] stream  KEYS[3] expiry index  KEYS[4..] one position per line
-- ARGV[1] reservation id  [2] ttl_ms  [3] stream maxlen  [4..] qty per line
-- returns {'held', expires_ms} | {'already_exists'} | {'insufficient', line index}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then return {'already_exists'} end
local n = #KEYS - 3
for i = 1, n do
  local p = redis.call('HMGET', KEYS[3 + i], 'oh', 'rs', 'sf')
  local free = (tonumber(p[1]) or 0) - (tonumber(p[2]) or 0) - (tonumber(p[3]) or 0)
  if tonumber(ARGV[3 + i]) > free then return {'insufficient', i} end
end
local lines = {}
for i = 1, n do
  local reserved = redis.call('HINCRBY', KEYS[3 + i], 'rs', ARGV[3 + i])
  lines[i] = KEYS[3 + i] .. '|' .. ARGV[3 + i] .. '|' .. reserved
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 't', 'reservation_held',
  'rid', ARGV[1], 'lines', table.concat(lines, ','), 'ts', now)
local expires = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'st', 'held', 'exp', expires, 'ts', now)
redis.call('ZADD', KEYS[3], expires, 'h:' .. ARGV[1])
return {'held', expires}
