-- leg_expire: return a held leg's open units, because its reservation expired or because
-- the attempt that created it failed on another partition (then the leg is deleted, so the
-- same id may be tried again).
-- KEYS[1] leg  KEYS[2] partition stream  KEYS[3] partition expiry index
-- KEYS[3+i] position of line i (every line of the leg, in order)
-- ARGV[1] reservation id  [2] now_ms  [3] stream maxlen  [4] retention_s
--     [5] mode: 'expired' | 'rolled_back'
-- returns {'applied'} | {'noop', state}
local rid, now, mode = ARGV[1], clock_ms(ARGV[2]), ARGV[5]
redis.call('ZREM', KEYS[3], 'l:' .. rid)
local state = redis.call('HGET', KEYS[1], 'st')
if state ~= 'held' then return {'noop', state or ''} end
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
for i = 1, n do
  local s = tostring(i)
  local line = redis.call('HMGET', KEYS[1], 's' .. s, 'l' .. s, 'o' .. s)
  local open = tonumber(line[3])
  if open > 0 then
    local p = read_pos(KEYS[3 + i])
    local after = {p[1], p[2] - open, p[3], p[4]}
    write_pos(KEYS[3 + i], after)
    emit({stream = KEYS[2], maxlen = ARGV[3], now = now, type = mode, sku = line[1],
      loc = line[2], before = p, after = after, reason = mode, rid = rid})
    redis.call('HSET', KEYS[1], 'o' .. s, 0)
    redis.call('HINCRBY', KEYS[1], 'x' .. s, open)
  end
end
if mode == 'rolled_back' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'st', 'expired')
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {'applied'}
