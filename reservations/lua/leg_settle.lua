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
local rid, action, now = ARGV[1], ARGV[2], clock_ms(ARGV[4])
local op_id, digest = ARGV[7], ARGV[8]
-- With an op id, each event carries the request digest (opd): a rebuild restores the
-- leg's op:<op_id> receipt from it.
local op_extra = nil
if op_id ~= '' then op_extra = {'opd', digest} end
local state = redis.call('HGET', KEYS[1], 'st')
if not state then return {'not_found'} end
if op_id ~= '' then
  local seen = redis.call('HGET', KEYS[1], 'op:' .. op_id)
  if seen == digest then return {'duplicate', state} end
  if seen then return {'op_conflict'} end
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
local plan = {}
for j = 1, targets do
  local idx, qty = ARGV[7 + 2 * j], tonumber(ARGV[8 + 2 * j])
  local open = tonumber(redis.call('HGET', KEYS[1], 'o' .. idx))
  if qty == 0 then qty = open end
  if qty > open then return {'exceeds_open', tonumber(idx), open} end
  local p = read_position(KEYS[4 + j])
  if action == 'fulfilled' and p[1] < qty then return {'on_hand_short', tonumber(idx), p[1]} end
  plan[j] = {idx, qty, p}
end
local out = {}
for j = 1, targets do
  local idx, qty, p = plan[j][1], plan[j][2], plan[j][3]
  if qty > 0 then
    local after = {p[1], p[2] - qty, p[3], p[4]}
    if action == 'fulfilled' then after[1] = p[1] - qty end
    write_position(KEYS[4 + j], after)
    local line = redis.call('HMGET', KEYS[1], 's' .. idx, 'l' .. idx)
    append_pos(out, line[1], line[2], after)
    emit({stream = KEYS[2], maxlen = ARGV[5], now = now, type = action, sku = line[1],
      loc = line[2], before = p, after = after, reason = action, rid = rid, op = op_id,
      extra = op_extra})
    redis.call('HINCRBY', KEYS[1], 'o' .. idx, -qty)
    redis.call('HINCRBY', KEYS[1], (action == 'fulfilled' and 'f' or 'r') .. idx, qty)
  end
end
if op_id ~= '' then redis.call('HSET', KEYS[1], 'op:' .. op_id, digest) end
local n, open_total = tonumber(redis.call('HGET', KEYS[1], 'n')), 0
for i = 1, n do open_total = open_total + tonumber(redis.call('HGET', KEYS[1], 'o' .. i)) end
if open_total == 0 then
  state = 'closed'
  redis.call('EXPIRE', KEYS[1], ARGV[6])
end
if state ~= 'held' then redis.call('ZREM', KEYS[3], 'l:' .. rid) end
-- Settled lines leave the committed index (a leg rolled forward here enters it).
if was_committed then index_sync(KEYS[1], KEYS[4], rid, now) end
redis.call('HSET', KEYS[1], 'st', state)
return {'applied', state, out}
