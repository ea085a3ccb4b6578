-- incoming_redate: a supply is now expected by another day; its qty is unchanged.
-- Re-dating to the day it already has changes nothing: duplicate, no event.
-- KEYS[1] position  KEYS[2] incoming supply hash  KEYS[3] partition stream
-- KEYS[4] operation receipt
-- ARGV sku, location, supply_id, expected_day (days since 1970-01-01), op_id, digest,
--      now_ms (0 = server time), maxlen, retention_s
-- returns {result, event_id, oh, rs, sf, in, received, retired, remaining}; result applied |
--         duplicate | op_conflict | supply_not_found (refusals: 6 items)
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, supply_id, day = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local op_id, digest, now = ARGV[5], ARGV[6], clock_ms(ARGV[7])
local refused, before, existing = supply_find(KEYS[1], KEYS[2], KEYS[4], supply_id, op_id, digest)
if refused then return refused end
local qty, old_day = string.match(existing, '^(%d+)|(.*)$')
if old_day == day then return supply_reply('duplicate', '', before, 0, 0, tonumber(qty)) end
redis.call('HSET', KEYS[2], supply_id, qty .. '|' .. day)
-- The position is unchanged; the event carries it (and the new day) like any other.
local id = emit({stream = KEYS[3], maxlen = ARGV[8], now = now, type = 'incoming_redated',
  sku = sku, loc = loc, before = before, after = before, reason = supply_id .. '@' .. day,
  op = op_id})
local reply = supply_reply('applied', id, before, 0, 0, tonumber(qty))
receipt_store(KEYS[4], op_id, digest, reply, ARGV[9])
return reply
