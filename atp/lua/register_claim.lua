-- register_claim: record a register's replayed events in its device log, in device order.
-- An event id is claimed once with its body digest; a device_seq belongs to one event id.
-- KEYS[1] device log hash (partition of the device id): e:<event_id> -> cjson record
--     {d digest, s seq, k kind, sku, loc, q qty}, s:<seq> -> event_id
-- ARGV[1] retention_s, then per event: event_id, device_seq, digest, kind (sale | return |
--     void), sku, location, qty, voids ('' unless a void)
-- returns per event 7 values: status ('new' | 'seen' | 'conflict'), then for a sale or return
--     its own kind, sku, location, qty; for a void its target's; then a detail ('' or why),
--     then the digest of the record answered (a void's target's: its events carry it)
local out = {}
local function answer(status, rec, detail)
  out[#out + 1] = status
  out[#out + 1] = rec and rec.k or ''
  out[#out + 1] = rec and rec.sku or ''
  out[#out + 1] = rec and rec.loc or ''
  out[#out + 1] = rec and rec.q or 0
  out[#out + 1] = detail
  out[#out + 1] = rec and rec.d or ''
end
local function target_of(voids)
  local raw = redis.call('HGET', KEYS[1], 'e:' .. voids)
  if not raw then return nil, 'voids an unknown event ' .. voids end
  local rec = cjson.decode(raw)
  if rec.k == 'void' then return nil, 'cannot void a void' end
  return rec, ''
end
local n = (#ARGV - 1) / 8
for i = 0, n - 1 do
  local b = 1 + 8 * i
  local eid, seq, digest, kind = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local voids = ARGV[b + 8]
  local rec = {d = digest, s = seq, k = kind, sku = ARGV[b + 5], loc = ARGV[b + 6],
    q = tonumber(ARGV[b + 7])}
  local seen = redis.call('HGET', KEYS[1], 'e:' .. eid)
  local owner = redis.call('HGET', KEYS[1], 's:' .. seq)
  if seen then
    local old = cjson.decode(seen)
    if old.d ~= digest then
      answer('conflict', nil, 'event_id already used with another body')
    elseif kind == 'void' then
      local target, why = target_of(voids)
      answer(target and 'seen' or 'conflict', target, why)
    else
      answer('seen', old, '')
    end
  elseif owner and owner ~= eid then
    answer('conflict', nil, 'device_seq ' .. seq .. ' already used by event ' .. owner)
  else
    local target, why = nil, ''
    if kind == 'void' then target, why = target_of(voids) end
    if kind == 'void' and not target then
      answer('conflict', nil, why)
    else
      redis.call('HSET', KEYS[1], 'e:' .. eid, cjson.encode(rec), 's:' .. seq, eid)
      answer('new', target or rec, '')
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return out
