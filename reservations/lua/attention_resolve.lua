-- attention_resolve: an attention entry is settled (by a person, or because the shortage
-- went away); a `reservation_flag_resolved` event at the position records it.
-- KEYS[1] partition attention hash  KEYS[2] partition stream  KEYS[3] position
-- ARGV[1] reservation id  [2] sku  [3] location  [4] note  [5] now_ms  [6] stream maxlen
-- returns {'applied'} | {'not_found'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, sku, loc = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HDEL', KEYS[1], loc .. '|' .. sku .. '|' .. rid) == 0 then return {'not_found'} end
local p = read_position(KEYS[3])
emit({stream = KEYS[2], maxlen = ARGV[6], now = clock_ms(ARGV[5]),
  type = 'reservation_flag_resolved', sku = sku, loc = loc, before = p, after = p,
  reason = ARGV[4], rid = rid})
return {'applied'}
