-- register_apply: apply one register event to its position, once. A sale is always accepted:
-- what it takes beyond the store's availability (on hand - reserved) is recorded as an
-- oversell (field os on the position, and an 'oversold' event), and on hand stops at zero
-- (the units evidently existed: the count was low). A void reverses its target exactly;
-- a void that arrives before its target is applied cancels the target in advance.
-- KEYS[1] position  KEYS[2] partition stream  KEYS[3] this event's receipt
--     KEYS[4] the voided event's receipt (a void), else KEYS[3] again
--     KEYS[5] partition shortage set
-- ARGV[1] kind: sale | return | void  [2] sku  [3] location  [4] qty  [5] op (device/event)
--     [6] now_ms  [7] stream maxlen  [8] retention_s  [9] this event id  [10] device id
--     [11] device_seq  [12] this event's body digest  [13] a void's target's digest ('')
-- Events carry dev eid dseq dig (and tdig on a void): what a rebuild restores the device
-- log and receipts from (durability/restore_registers.py). A void of a never-applied target changes no
-- position and emits 'pos_voided_ahead' (zero deltas) so the target's 'voided' survives.
-- Receipt hash: st (applied | voided), doh (on hand change made), os (units oversold),
--     vb (the void that cancelled it)
-- returns {'applied' | 'duplicate' | 'conflict', oversold units, detail}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local kind, sku, loc, qty, op = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local now, maxlen, retention, eid = clock_ms(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local register = {'dev', ARGV[10], 'eid', eid, 'dseq', ARGV[11], 'dig', ARGV[12]}
if kind == 'void' then
  register[#register + 1] = 'tdig'
  register[#register + 1] = ARGV[13]
end
if redis.call('EXISTS', KEYS[3]) == 1 and kind ~= 'void' then
  return {'duplicate', tonumber(redis.call('HGET', KEYS[3], 'os')) or 0, ''}
end
if kind == 'void' and redis.call('EXISTS', KEYS[3]) == 1 then return {'duplicate', 0, ''} end

local function take(p, units)
  -- on hand falls by units, never below zero; units past the store's availability oversell
  local sellable = p[1] - p[2]
  if sellable < 0 then sellable = 0 end
  local over = units - sellable
  if over < 0 then over = 0 end
  local oh = p[1] - units
  if oh < 0 then oh = 0 end
  return {oh, p[2], p[3], p[4]}, over
end

-- Events name the register event in 'why' ("pos_sale:<device>/<event>"; an oversell's is
-- "<units>@<device>/<event>"), not in 'op': op ids are stock-write receipts, which the
-- journal rebuilds from events with an op.
local function change(before, after, over_delta, reason)
  write_position(KEYS[1], after)
  -- A change that leaves reserved above on hand queues the position for re-sourcing
  -- (routing/resourcing.py).
  if after[2] > after[1] then redis.call('SADD', KEYS[5], loc .. '|' .. sku) end
  local os = nil
  if over_delta ~= 0 then os = redis.call('HINCRBY', KEYS[1], 'os', over_delta) end
  emit({stream = KEYS[2], maxlen = maxlen, now = now, type = 'adjusted', sku = sku, loc = loc,
    before = before, after = after, reason = 'pos_' .. reason .. ':' .. op, os = os,
    extra = register})
  if over_delta ~= 0 then  -- a void that releases an oversell says so too: -2@till/v1
    emit({stream = KEYS[2], maxlen = maxlen, now = now, type = 'oversold', sku = sku,
      loc = loc, before = after, after = after, reason = over_delta .. '@' .. op, os = os})
  end
end

local p = read_position(KEYS[1])
if kind == 'sale' or kind == 'return' then
  local after, over = {p[1] + qty, p[2], p[3], p[4]}, 0
  if kind == 'sale' then after, over = take(p, qty) end
  change(p, after, over, kind)
  redis.call('HSET', KEYS[3], 'st', 'applied', 'doh', after[1] - p[1], 'os', over)
  redis.call('EXPIRE', KEYS[3], retention)
  return {'applied', over, ''}
end

local t = redis.call('HMGET', KEYS[4], 'st', 'doh', 'os', 'vb')
if t[1] == 'voided' then return {'conflict', 0, 'already voided by ' .. (t[4] or '?')} end
redis.call('HSET', KEYS[3], 'st', 'applied', 'doh', 0, 'os', 0)
redis.call('EXPIRE', KEYS[3], retention)
if not t[1] then  -- the target was never applied: it never will be
  redis.call('HSET', KEYS[4], 'st', 'voided', 'vb', eid, 'doh', 0, 'os', 0)
  redis.call('EXPIRE', KEYS[4], retention)
  emit({stream = KEYS[2], maxlen = maxlen, now = now, type = 'pos_voided_ahead', sku = sku,
    loc = loc, before = p, after = p, reason = 'pos_void:' .. op, extra = register})
  return {'applied', 0, ''}
end
local undo, over_before = -tonumber(t[2]), tonumber(t[3])
local after, over = {p[1] + undo, p[2], p[3], p[4]}, 0
if undo < 0 then after, over = take(p, -undo) end  -- voiding a return takes units again
local current = tonumber(redis.call('HGET', KEYS[1], 'os')) or 0
local released = math.min(over_before, current)  -- a voided oversell is no longer one
change(p, after, over - released, 'void')
redis.call('HSET', KEYS[4], 'st', 'voided', 'vb', eid)
redis.call('HSET', KEYS[3], 'doh', after[1] - p[1], 'os', over)
return {'applied', over, ''}
