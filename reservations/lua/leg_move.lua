-- leg_move: move open units of a committed leg's line from one location to another of the
-- same sku (so the same partition), in one step: the source gives up reserved units, the
-- target takes them within its availability for the reservation's channel, the leg's lines
-- and the committed index follow, and both positions get a `reservation_moved` event.
-- KEYS[1] leg  KEYS[2] partition stream  KEYS[3] partition committed index
-- KEYS[4] source position  KEYS[5] target position  KEYS[6] partition shortage set
-- ARGV[1] reservation id  [2] sku  [3] source location  [4] target location  [5] qty
--     [6] short_only ('1': move at most the source's shortage, reserved - on hand; racing
--     re-sourcers then move each short unit once)  [7] op_id  [8] op digest  [9] now_ms
--     [10] stream maxlen  [11] leg lines max
-- Events: why = '<source>><target>' on both; drs < 0 at the source, > 0 at the target.
-- returns {'applied', moved} | {'duplicate'} | {'op_conflict'} | {'not_found'} |
--         {'illegal', leg state} | {'no_line'} | {'exceeds_open', open} | {'not_short'} |
--         {'insufficient', available} | {'too_many_lines'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, sku, from, to, qty = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local op_id, digest, now = ARGV[7], ARGV[8], clock_ms(ARGV[9])
local leg = KEYS[1]
local h = redis.call('HMGET', leg, 'st', 'ch', 'n', 'ct')
if not h[1] then return {'not_found'} end
if op_id ~= '' then
  local seen = redis.call('HGET', leg, 'op:' .. op_id)
  if seen == digest then return {'duplicate'} end
  if seen then return {'op_conflict'} end
end
if h[1] ~= 'committed' then return {'illegal', h[1]} end
local n, src, dst = tonumber(h[3]), nil, nil
local lines = read_lines(leg, n)  -- line i: sku, location, open at 3i - 2 .. 3i
for i = 1, n do
  if lines[3 * i - 2] == sku and lines[3 * i - 1] == from then src = i end
  if lines[3 * i - 2] == sku and lines[3 * i - 1] == to then dst = i end
end
if not src then return {'no_line'} end
local open = tonumber(lines[3 * src])
if qty > open then return {'exceeds_open', open} end
local a = read_position(KEYS[4])
if ARGV[6] == '1' then
  local short = a[2] - a[1]
  if short <= 0 then return {'not_short'} end
  if qty > short then qty = short end
end
local b = read_position(KEYS[5])
local available = b[1] - b[2]
if h[2] ~= 'store' then available = available - b[3] end  -- online never takes safety stock
if qty > available then
  if available < 0 then available = 0 end
  return {'insufficient', available}
end
if not dst and n >= tonumber(ARGV[11]) then return {'too_many_lines'} end

local a_after = {a[1], a[2] - qty, a[3], a[4]}
local b_after = {b[1], b[2] + qty, b[3], b[4]}
write_position(KEYS[4], a_after)
write_position(KEYS[5], b_after)
local why = from .. '>' .. to
emit({stream = KEYS[2], maxlen = ARGV[10], now = now, type = 'reservation_moved', sku = sku,
  loc = from, before = a, after = a_after, reason = why, rid = rid, op = op_id})
emit({stream = KEYS[2], maxlen = ARGV[10], now = now, type = 'reservation_moved', sku = sku,
  loc = to, before = b, after = b_after, reason = why, rid = rid, op = op_id})
redis.call('HINCRBY', leg, 'q' .. src, -qty)
redis.call('HINCRBY', leg, 'o' .. src, -qty)
lines[3 * src] = open - qty
if dst then
  redis.call('HINCRBY', leg, 'q' .. dst, qty)
  redis.call('HINCRBY', leg, 'o' .. dst, qty)
  lines[3 * dst] = tonumber(lines[3 * dst]) + qty
else  -- a new line: its fulfilled, released and expired counts are absent (0)
  n = n + 1
  redis.call('HSET', leg, 'n', n, 's' .. n, sku, 'l' .. n, to, 'q' .. n, qty, 'o' .. n, qty)
  lines[3 * n - 2], lines[3 * n - 1], lines[3 * n] = sku, to, qty
end
if op_id ~= '' then redis.call('HSET', leg, 'op:' .. op_id, digest) end
-- A committed leg has its commit time; one that has none (a leg committed before ct was
-- stamped at commit) takes now, as the index always did.
local ct = tonumber(h[4])
if not ct then
  ct = now
  redis.call('HSET', leg, 'ct', ct)
end
index_sync(KEYS[3], rid, ct, n, lines)
if a_after[2] <= a_after[1] then redis.call('SREM', KEYS[6], from .. '|' .. sku) end
return {'applied', qty}
