-- incoming_add: record supply expected at a location by a day. The supply id is the
-- idempotency key: the same id with the same qty and day is a duplicate, else a conflict.
-- KEYS[1] position  KEYS[2] incoming supply hash  KEYS[3] partition stream
-- ARGV sku, location, supply_id, qty, expected_day (days since 1970-01-01), now_ms, maxlen,
--      supplies_max
-- returns {result, event_id, oh, rs, sf, in}; result applied | duplicate | supply_conflict |
--         too_many_supplies
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, supply_id, qty, day = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local now = clock_ms(ARGV[6])
local before = read_position(KEYS[1])
local existing = redis.call('HGET', KEYS[2], supply_id)
local value = ARGV[4] .. '|' .. day
if existing then
  if existing == value then return position_reply('duplicate', '', before) end
  return position_reply('supply_conflict', '', before)
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[8]) then
  return position_reply('too_many_supplies', '', before)
end
redis.call('HSET', KEYS[2], supply_id, value)
local after = {before[1], before[2], before[3], before[4] + qty}
write_position(KEYS[1], after)
local id = emit({stream = KEYS[3], maxlen = ARGV[7], now = now, type = 'incoming_added',
  sku = sku, loc = loc, before = before, after = after, reason = supply_id .. '@' .. day})
return position_reply('applied', id, after)
