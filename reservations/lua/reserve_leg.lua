-- reserve_leg: hold every line of one partition, or none.
-- KEYS[1] leg  KEYS[2] partition stream  KEYS[3] partition expiry index
-- KEYS[3+i] position of line i
-- ARGV[1] reservation id  [2] digest of the whole request  [3] channel
--     [4] allow_safety ('1' for the store counter)  [5] now_ms (0 = server time)
--     [6] leg deadline offset ms (ttl + grace: the header, not the leg, decides expiry)
--     [7] stream maxlen  then per line: sku, location, qty
-- Leg hash: rid d st ch n, per line i: s<i> l<i> q<i> o<i> (open) f<i> (fulfilled)
--     r<i> (released) x<i> (expired or rolled back); op:<op_id> receipts
-- returns {'reserved'} | {'already_exists', state} | {'conflict'} |
--         {'insufficient', sku, location, requested, available, ...}
local rid, digest, channel = ARGV[1], ARGV[2], ARGV[3]
local allow_safety, now = ARGV[4] == '1', clock_ms(ARGV[5])
local existing = redis.call('HMGET', KEYS[1], 'd', 'st')
if existing[1] then
  if existing[1] == digest then return {'already_exists', existing[2]} end
  return {'conflict'}
end
local n = (#ARGV - 7) / 3
local before, short = {}, {}
for i = 1, n do
  local qty = tonumber(ARGV[7 + 3 * i])
  local p = read_pos(KEYS[3 + i])
  local available = p[1] - p[2]
  if not allow_safety then available = available - p[3] end
  if qty > available then
    if available < 0 then available = 0 end
    short[#short + 1] = ARGV[5 + 3 * i]; short[#short + 1] = ARGV[6 + 3 * i]
    short[#short + 1] = qty; short[#short + 1] = available
  end
  before[i] = p
end
if #short > 0 then
  table.insert(short, 1, 'insufficient')
  return short
end
local fields = {'rid', rid, 'd', digest, 'st', 'held', 'ch', channel, 'n', n}
for i = 1, n do
  local sku, loc, qty = ARGV[5 + 3 * i], ARGV[6 + 3 * i], tonumber(ARGV[7 + 3 * i])
  local p = before[i]
  local after = {p[1], p[2] + qty, p[3], p[4]}
  write_pos(KEYS[3 + i], after)
  emit({stream = KEYS[2], maxlen = ARGV[7], now = now, type = 'reserved', sku = sku, loc = loc,
    before = p, after = after, reason = channel, rid = rid})
  local s = tostring(i)
  for _, f in ipairs({'s' .. s, sku, 'l' .. s, loc, 'q' .. s, qty, 'o' .. s, qty,
                      'f' .. s, 0, 'r' .. s, 0, 'x' .. s, 0}) do fields[#fields + 1] = f end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), 'l:' .. rid)
return {'reserved'}
