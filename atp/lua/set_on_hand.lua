-- set_on_hand: a cycle count; optionally only if on hand still equals an expected value.
-- KEYS[1] position  KEYS[2] partition stream  KEYS[3] operation receipt
-- KEYS[4] partition shortage set
-- ARGV sku, location, on_hand, expected ('' = unconditional), reason, op_id, digest, now_ms,
--      maxlen, retention_s
-- returns {result, event_id, oh, rs, sf, in}; result applied | duplicate | op_conflict |
--         expected_mismatch. A count below reserved is accepted: the position shows it short.
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, on_hand, expected, reason = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local op_id, digest, now = ARGV[6], ARGV[7], clock_ms(ARGV[8])
local replay = receipt_replay(KEYS[3], op_id, digest, KEYS[1])
if replay then return replay end
local before = read_position(KEYS[1])
if expected ~= '' and tonumber(expected) ~= before[1] then
  return position_reply('expected_mismatch', '', before)
end
local after = {on_hand, before[2], before[3], before[4]}
write_position(KEYS[1], after)
-- A count is the truth: an oversell a register recorded (field os, atp/register_events.py)
-- is settled.
redis.call('HDEL', KEYS[1], 'os')
local id = emit({stream = KEYS[2], maxlen = ARGV[9], now = now, type = 'counted', sku = sku,
  loc = loc, before = before, after = after, reason = reason, op = op_id, os = 0})
-- A change that leaves reserved above on hand queues the position for re-sourcing
-- (routing/resourcing.py).
if after[2] > after[1] then redis.call('SADD', KEYS[4], loc .. '|' .. sku) end
local reply = position_reply('applied', id, after)
receipt_store(KEYS[3], op_id, digest, reply, ARGV[10])
return reply
