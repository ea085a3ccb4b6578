-- adjust: change on hand by a signed delta with a reason.
-- KEYS[1] position  KEYS[2] partition stream  KEYS[3] operation receipt
-- KEYS[4] partition shortage set
-- ARGV sku, location, delta, reason, op_id, digest, now_ms (0 = server time), maxlen, retention_s,
--      qty_max
-- returns {result, event_id, oh, rs, sf, in}; result applied | duplicate | op_conflict |
--         negative_on_hand | over_limit
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local sku, loc, delta, reason = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local op_id, digest, now = ARGV[5], ARGV[6], clock_ms(ARGV[7])
local replay = receipt_replay(KEYS[3], op_id, digest, KEYS[1])
if replay then return replay end
local before = read_position(KEYS[1])
if before[1] + delta < 0 then return position_reply('negative_on_hand', '', before) end
if before[1] + delta > tonumber(ARGV[10]) then return position_reply('over_limit', '', before) end
local after = {before[1] + delta, before[2], before[3], before[4]}
write_position(KEYS[1], after)
local id = emit({stream = KEYS[2], maxlen = ARGV[8], now = now, type = 'adjusted', sku = sku,
  loc = loc, before = before, after = after, reason = reason, op = op_id})
-- A change that leaves reserved above on hand queues the position for re-sourcing
-- (routing/resourcing.py).
if after[2] > after[1] then redis.call('SADD', KEYS[4], loc .. '|' .. sku) end
local reply = position_reply('applied', id, after)
receipt_store(KEYS[3], op_id, digest, reply, ARGV[9])
return reply
