-- Shared helpers, prepended to every script by atp.scripts at load time.
-- A position is the hash {oh, rs, sf, in}: on hand, reserved, safety, incoming total.
-- Scripts check everything first and write last: a Lua error after a write keeps the write.

-- Numbers a script passes to redis.call go as text where it has them: redis.call formats a
-- Lua number with %.17g, several times dearer than string.format's %d (int_text), and a
-- value read or received as text needs no formatting at all.
local function int_text(n)
  return string.format('%d', n)
end

-- The script's time in ms, and the same as text: the caller's (tests drive a manual clock),
-- else the server's.
local function clock_ms(arg)
  local given = tonumber(arg)
  if given and given > 0 then return given, arg end
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return ms, int_text(ms)
end

local function read_position(key)
  local v = redis.call('HMGET', key, 'oh', 'rs', 'sf', 'in')
  return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0}
end

local function write_position(key, p)
  redis.call('HSET', key, 'oh', int_text(p[1]), 'rs', int_text(p[2]), 'sf', int_text(p[3]),
    'in', int_text(p[4]))
end

-- The acting party (atp/actor.py): who made the change (an API key id, system:sweeper, ...)
-- and the reference given with it. A script that appends events calls take_actor() first:
-- the transports send them as its last two ARGV (atp/scripts.py, atp/redis_io.py), and it
-- returns how many ARGV are the script's own. ACTOR holds the stream fields to add: 'by'
-- and 'ref', each only when not empty (entries stay small).
local ACTOR = {}

local function take_actor()
  local n = #ARGV - 2
  local by, ref = ARGV[n + 1], ARGV[n + 2]
  if by ~= '' then ACTOR[#ACTOR + 1] = 'by'; ACTOR[#ACTOR + 1] = by end
  if ref ~= '' then ACTOR[#ACTOR + 1] = 'ref'; ACTOR[#ACTOR + 1] = ref end
  return n
end

-- ev: {stream, maxlen, now, type, sku, loc, before, after, reason, rid, op, os, extra}
-- (now: a number, or better its text; before and after: positions as numbers)
-- An entry carries only what a reader cannot derive (atp/events.py FIELDS names every field
-- and what a reader takes when it is absent): the type and time; for a position event (one
-- with a sku) the position after it and the deltas that are not zero; reason, reservation
-- and op ids when not empty. Online ATP before and after is not carried: the journal
-- derives it (durability/store.py) and the replica has no use for it.
-- os (units registers oversold at the position after the change) is written only by the
-- scripts that change it, so readers of the stream (the replica) keep it current.
-- extra: optional flat list of further field, value pairs (register events, op digests,
-- the held event's header fields: ARCHITECTURE.md "Events"); then the actor's (ACTOR).
local function emit(ev)
  local args = {'XADD', ev.stream, 'MAXLEN', '~', ev.maxlen, '*', 't', ev.type, 'ts', ev.now}
  if ev.sku then
    local b, a = ev.before, ev.after
    args[#args + 1] = 'sku'; args[#args + 1] = ev.sku
    args[#args + 1] = 'loc'; args[#args + 1] = ev.loc
    args[#args + 1] = 'oh'; args[#args + 1] = int_text(a[1])
    args[#args + 1] = 'rs'; args[#args + 1] = int_text(a[2])
    args[#args + 1] = 'sf'; args[#args + 1] = int_text(a[3])
    args[#args + 1] = 'in'; args[#args + 1] = int_text(a[4])
    if a[1] ~= b[1] then args[#args + 1] = 'doh'; args[#args + 1] = int_text(a[1] - b[1]) end
    if a[2] ~= b[2] then args[#args + 1] = 'drs'; args[#args + 1] = int_text(a[2] - b[2]) end
    if a[3] ~= b[3] then args[#args + 1] = 'dsf'; args[#args + 1] = int_text(a[3] - b[3]) end
    if a[4] ~= b[4] then args[#args + 1] = 'din'; args[#args + 1] = int_text(a[4] - b[4]) end
  end
  if ev.reason and ev.reason ~= '' then args[#args + 1] = 'why'; args[#args + 1] = ev.reason end
  if ev.rid and ev.rid ~= '' then args[#args + 1] = 'rid'; args[#args + 1] = ev.rid end
  if ev.op and ev.op ~= '' then args[#args + 1] = 'op'; args[#args + 1] = ev.op end
  if ev.os then args[#args + 1] = 'os'; args[#args + 1] = ev.os end
  if ev.extra then
    for _, v in ipairs(ev.extra) do args[#args + 1] = v end
  end
  for _, v in ipairs(ACTOR) do args[#args + 1] = v end
  return redis.call(unpack(args))
end

-- A hold's `reserved` event: what emit writes for it (reserved rises by qty, nothing else
-- changes), with no table built, for the hold scripts' hot path. The values are passed as
-- they are, strings or numbers, none of them nil.
local function emit_reserved(stream, maxlen, now, sku, loc, oh, rs, sf, inc, qty, channel, rid)
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 't', 'reserved', 'ts', now,
    'sku', sku, 'loc', loc, 'oh', oh, 'rs', rs, 'sf', sf, 'in', inc, 'drs', qty,
    'why', channel, 'rid', rid, unpack(ACTOR))
end

local function position_reply(result, event_id, p)
  return {result, event_id, p[1], p[2], p[3], p[4]}
end

-- Operation receipts make a retried write return its first reply instead of applying twice.
local function receipt_replay(key, op_id, digest, position_key)
  if op_id == '' then return nil end
  local stored = redis.call('HMGET', key, 'd', 'r')
  if not stored[1] then return nil end
  if stored[1] ~= digest then
    return position_reply('op_conflict', '', read_position(position_key))
  end
  local reply = cjson.decode(stored[2])
  reply[1] = 'duplicate'
  return reply
end

local function receipt_store(key, op_id, digest, reply, retention_s)
  if op_id == '' then return end
  redis.call('HSET', key, 'd', digest, 'r', cjson.encode(reply))
  redis.call('EXPIRE', key, retention_s)
end

-- A write to a recorded supply (incoming_*.lua) starts alike: a retried op answers its first
-- reply, an unknown supply is refused. Returns that reply, or nil, the position and the
-- supply's 'qty|day'.
local function supply_find(position_key, supply_key, receipt_key, supply_id, op_id, digest)
  local replay = receipt_replay(receipt_key, op_id, digest, position_key)
  if replay then return replay end
  local before = read_position(position_key)
  local existing = redis.call('HGET', supply_key, supply_id)
  if not existing then return position_reply('supply_not_found', '', before) end
  return nil, before, existing
end

-- A supply write's reply: the position's, then units received, retired and still expected.
local function supply_reply(result, event_id, p, received, retired, remaining)
  local reply = position_reply(result, event_id, p)
  reply[7], reply[8], reply[9] = received, retired, remaining
  return reply
end
