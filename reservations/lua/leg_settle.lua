-- leg_settle: fulfill or release lines of one leg, whole or in part, all or none.
-- KEYS[1] leg  KEYS[2] partition stream  KEYS[3] partition expiry index
-- KEYS[4] partition committed index  KEYS[4+j] position of target j
-- ARGV[1] reservation id  [2] action: 'fulfilled' | 'released'
--     [3] header committed ('1' rolls a leg the header already committed forward)
--     [4] now_ms  [5] stream maxlen  [6] retention_s  [7] op_id ('' = none)  [8] op digest
--     then per target: line index, qty (0 = all still open)
-- returns {'applied', state, {sku, location, oh, rs, sf, in per line settled}} |
--         {'duplicate', state} | {'op_conflict'} | {'not_found'} |
--         {'illegal', state} | {'exceeds_open', line index, open} | {'on_hand_short', line index, on_hand}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them. The
--     script's own ARGV are the first nargs.
local nargs = take_actor()
local rid, action = ARGV[1], ARGV[2]
local now, now_text = clock_ms(ARGV[4])
local op_id, digest = ARGV[7], ARGV[8]
local leg_key = KEYS[1]
-- With an op id, each event carries the request digest (opd): a rebuild restores the
-- leg's op:<op_id> receipt from it.
local op_extra = nil
if op_id ~= '' then op_extra = {'opd', digest} end
-- The receipt is read with the leg's state ('op:' alone, no op id, is never written).
local leg = redis.call('HMGET', leg_key, 'st', 'n', 'ct', 'op:' .. op_id)
local state = leg[1]
if not state then return {'not_found'} end
if op_id ~= '' then
  if leg[4] == digest then return {'duplicate', state} end
  if leg[4] then return {'op_conflict'} end
end
if state == 'held' and ARGV[3] == '1' then state = 'committed' end
local targets = (nargs - 8) / 2
if state == 'closed' and action == 'released' then
  local all_open = true
  for j = 1, targets do if tonumber(ARGV[8 + 2 * j]) ~= 0 then all_open = false end end
  if all_open then return {'duplicate', state} end
end
if state ~= 'committed' and not (action == 'released' and state == 'held') then
  return {'illegal', state}
end
local was_committed = state == 'committed'
local n = tonumber(leg[2])
local lines = read_lines(leg_key, n)  -- line i: sku, location, open at 3i - 2 .. 3i
local plan = {}
for j = 1, targets do
  local idx, qty = tonumber(ARGV[7 + 2 * j]), tonumber(ARGV[8 + 2 * j])
  local open = tonumber(lines[3 * idx])
  if qty == 0 then qty = open end
  if qty > open then return {'exceeds_open', idx, open} end
  local p = read_position(KEYS[4 + j])
  if action == 'fulfilled' and p[1] < qty then return {'on_hand_short', idx, p[1]} end
  plan[j] = {idx, qty, p}
end
local out, fields = {}, {}
for j = 1, targets do
  local idx, qty, p = plan[j][1], plan[j][2], plan[j][3]
  local s = ARGV[7 + 2 * j]  -- the line's index as text: its fields' suffix
  if qty > 0 then
    local after = {p[1], p[2] - qty, p[3], p[4]}
    if action == 'fulfilled' then
      after[1] = p[1] - qty
      redis.call('HSET', KEYS[4 + j], 'oh', int_text(after[1]), 'rs', int_text(after[2]))
    else
      redis.call('HSET', KEYS[4 + j], 'rs', int_text(after[2]))
    end
    local sku, loc = lines[3 * idx - 2], lines[3 * idx - 1]
    append_pos(out, sku, loc, after[1], after[2], after[3], after[4])
    emit({stream = KEYS[2], maxlen = ARGV[5], now = now_text, type = action, sku = sku, loc = loc,
      before = p, after = after, reason = action, rid = rid, op = op_id, extra = op_extra})
    lines[3 * idx] = tonumber(lines[3 * idx]) - qty
    fields[#fields + 1] = 'o' .. s; fields[#fields + 1] = int_text(lines[3 * idx])
    redis.call('HINCRBY', leg_key, (action == 'fulfilled' and 'f' or 'r') .. s, int_text(qty))
  end
end
if op_id ~= '' then fields[#fields + 1] = 'op:' .. op_id; fields[#fields + 1] = digest end
local open_total = 0
for i = 1, n do open_total = open_total + tonumber(lines[3 * i]) end
if open_total == 0 then
  state = 'closed'
  redis.call('EXPIRE', leg_key, ARGV[6])
end
if state ~= 'held' then redis.call('ZREM', KEYS[3], 'l:' .. rid) end
-- Settled lines leave the committed index; a leg rolled forward here enters it, stamped
-- with its commit time now.
if was_committed then
  local ct = tonumber(leg[3])
  if not ct then
    ct = now
    fields[#fields + 1] = 'ct'; fields[#fields + 1] = now_text
  end
  index_sync(KEYS[4], rid, ct, n, lines)
end
fields[#fields + 1] = 'st'; fields[#fields + 1] = state
redis.call('HSET', leg_key, unpack(fields))
return {'applied', state, out}
