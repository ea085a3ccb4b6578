-- set_safety: set the safety stock held back from online channels.
-- KEYS[1] position  KEYS[2] partition stream  KEYS[3] operation receipt
-- ARGV sku, location, safety, op_id, digest, now_ms, maxlen, retention_s
-- returns {result, event_id, oh, rs, sf, in}; result applied | duplicate | op_conflict
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, safety = ARGV[1], ARGV[2], tonumber(ARGV[3])
local op_id, digest, now = ARGV[4], ARGV[5], clock_ms(ARGV[6])
local replay = receipt_replay(KEYS[3], op_id, digest, KEYS[1])
if replay then return replay end
local before = read_position(KEYS[1])
local after = {before[1], before[2], safety, before[4]}
write_position(KEYS[1], after)
local id = emit({stream = KEYS[2], maxlen = ARGV[7], now = now, type = 'safety_set', sku = sku,
  loc = loc, before = before, after = after, reason = 'safety', op = op_id})
local reply = position_reply('applied', id, after)
receipt_store(KEYS[3], op_id, digest, reply, ARGV[8])
return reply
