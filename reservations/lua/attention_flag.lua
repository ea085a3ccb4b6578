-- attention_flag: committed units re-sourcing could not move go to a human: an entry in the
-- partition's attention hash and a `reservation_flagged` event at the position (zero deltas,
-- the position as it is). The same units flagged again change nothing. Units are capped, in
-- the same step, by what is still short there and still open on the reservation's line, so a
-- flag written after a racing re-sourcer moved the units says so ('not_needed').
-- KEYS[1] partition attention hash  KEYS[2] partition stream  KEYS[3] position  KEYS[4] leg
-- ARGV[1] reservation id  [2] sku  [3] location  [4] units  [5] why  [6] now_ms
--     [7] stream maxlen
-- Attention field '<loc>|<sku>|<rid>' -> cjson {rid, sku, loc, units, why, ts}
-- Event why: '<units>:<why>'
-- returns {'applied', units} | {'duplicate', units} | {'not_needed'}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local rid, sku, loc, units, why = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local now = clock_ms(ARGV[6])
local p = read_position(KEYS[3])
local open = 0
local n = tonumber(redis.call('HGET', KEYS[4], 'n')) or 0
local lines = read_lines(KEYS[4], n)  -- line i: sku, location, open at 3i - 2 .. 3i
for i = 1, n do
  if lines[3 * i - 2] == sku and lines[3 * i - 1] == loc then open = tonumber(lines[3 * i]) end
end
units = math.min(units, open, p[2] - p[1])
if units <= 0 then return {'not_needed'} end
local field = loc .. '|' .. sku .. '|' .. rid
local seen = redis.call('HGET', KEYS[1], field)
if seen then
  local old = cjson.decode(seen)
  if tonumber(old.units) == units and old.why == why then return {'duplicate', units} end
end
redis.call('HSET', KEYS[1], field,
  cjson.encode({rid = rid, sku = sku, loc = loc, units = units, why = why, ts = now}))
emit({stream = KEYS[2], maxlen = ARGV[7], now = now, type = 'reservation_flagged', sku = sku,
  loc = loc, before = p, after = p, reason = units .. ':' .. why, rid = rid})
return {'applied', units}
