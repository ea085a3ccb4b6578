-- incoming_remove: drop expected supply (received, cancelled or re-dated).
-- KEYS[1] position  KEYS[2] incoming supply hash  KEYS[3] partition stream
-- ARGV sku, location, supply_id, now_ms, maxlen
-- returns {result, event_id, oh, rs, sf, in}; result applied | supply_not_found
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, supply_id, now = ARGV[1], ARGV[2], ARGV[3], clock_ms(ARGV[4])
local before = read_pos(KEYS[1])
local existing = redis.call('HGET', KEYS[2], supply_id)
if not existing then return pos_reply('supply_not_found', '', before) end
local qty = tonumber(string.match(existing, '^(%d+)|'))
redis.call('HDEL', KEYS[2], supply_id)
local after = {before[1], before[2], before[3], before[4] - qty}
write_pos(KEYS[1], after)
local id = emit({stream = KEYS[3], maxlen = ARGV[5], now = now, type = 'incoming_removed',
  sku = sku, loc = loc, before = before, after = after, reason = supply_id})
return pos_reply('applied', id, after)
