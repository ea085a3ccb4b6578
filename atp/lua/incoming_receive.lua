-- incoming_receive: goods of a supply arrived. On hand grows by the units received and the
-- supply shrinks by as much (gone when nothing is left), in one step and one event.
-- Units beyond what the supply still expects are accepted as received (an over-receipt):
-- the supply retires whole, and received - retired in the reply says by how many.
-- KEYS[1] position  KEYS[2] incoming supply hash  KEYS[3] partition stream
-- KEYS[4] operation receipt
-- ARGV sku, location, supply_id, qty ('' = all the supply still expects), reason ('' = none),
--      op_id, digest, now_ms (0 = server time), maxlen, retention_s, qty_max
-- returns {result, event_id, oh, rs, sf, in, received, retired, remaining}; result applied |
--         duplicate | op_conflict | supply_not_found | over_limit (refusals: 6 items)
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, supply_id, qty_arg, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local op_id, digest, now = ARGV[6], ARGV[7], clock_ms(ARGV[8])
local refused, before, existing = supply_find(KEYS[1], KEYS[2], KEYS[4], supply_id, op_id, digest)
if refused then return refused end
local expected, day = string.match(existing, '^(%d+)|(.*)$')
expected = tonumber(expected)
local received = expected
if qty_arg ~= '' then received = tonumber(qty_arg) end
if before[1] + received > tonumber(ARGV[11]) then
  return position_reply('over_limit', '', before)
end
local retired = math.min(received, expected)
local remaining = expected - retired
if remaining > 0 then
  redis.call('HSET', KEYS[2], supply_id, remaining .. '|' .. day)
else
  redis.call('HDEL', KEYS[2], supply_id)
end
local after = {before[1] + received, before[2], before[3], before[4] - retired}
write_position(KEYS[1], after)
local why = supply_id
if reason ~= '' then why = supply_id .. ':' .. reason end
local id = emit({stream = KEYS[3], maxlen = ARGV[9], now = now, type = 'incoming_received',
  sku = sku, loc = loc, before = before, after = after, reason = why, op = op_id})
local reply = supply_reply('applied', id, after, received, retired, remaining)
receipt_store(KEYS[4], op_id, digest, reply, ARGV[10])
return reply
