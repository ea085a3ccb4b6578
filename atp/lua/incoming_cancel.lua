-- incoming_cancel: a supply will not come, or is dropped; its remaining qty leaves incoming
-- (on hand as is). Cancelling (with an op receipt) and the older plain removal share it.
-- KEYS[1] position  KEYS[2] incoming supply hash  KEYS[3] partition stream
-- KEYS[4] operation receipt (unused without an op id)
-- ARGV sku, location, supply_id, op_id, digest, now_ms (0 = server time), maxlen, retention_s,
--      event type (incoming_cancelled | incoming_removed)
-- returns {result, event_id, oh, rs, sf, in, received, retired, remaining}; result applied |
--         duplicate | op_conflict | supply_not_found (refusals: 6 items)
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, supply_id = ARGV[1], ARGV[2], ARGV[3]
local op_id, digest, now = ARGV[4], ARGV[5], clock_ms(ARGV[6])
local refused, before, existing = supply_find(KEYS[1], KEYS[2], KEYS[4], supply_id, op_id, digest)
if refused then return refused end
local qty = tonumber(string.match(existing, '^(%d+)|'))
redis.call('HDEL', KEYS[2], supply_id)
local after = {before[1], before[2], before[3], before[4] - qty}
write_position(KEYS[1], after)
local id = emit({stream = KEYS[3], maxlen = ARGV[7], now = now, type = ARGV[9],
  sku = sku, loc = loc, before = before, after = after, reason = supply_id, op = op_id})
local reply = supply_reply('applied', id, after, 0, qty, 0)
receipt_store(KEYS[4], op_id, digest, reply, ARGV[8])
return reply
