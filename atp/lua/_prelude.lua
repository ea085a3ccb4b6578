-- Shared helpers, prepended to every script by atp.scripts at load time.
-- A position is the hash {oh, rs, sf, in}: on hand, reserved, safety, incoming total.
-- Scripts check everything first and write last: a Lua error after a write keeps the write.

local function clock_ms(arg)
  local given = tonumber(arg)
  if given and given > 0 then return given end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function read_position(key)
  local v = redis.call('HMGET', key, 'oh', 'rs', 'sf', 'in')
  return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0}
end

local function write_position(key, p)
  redis.call('HSET', key, 'oh', p[1], 'rs', p[2], 'sf', p[3], 'in', p[4])
end

local function atp_online(p)
  local a = p[1] - p[2] - p[3]
  if a < 0 then return 0 end
  return a
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
-- os (units registers oversold at the position after the change) is written only by the
-- scripts that change it, so readers of the stream (the replica) keep it current.
-- extra: optional flat list of further field, value pairs (register events, op digests,
-- ARCHITECTURE.md "Events"), appended after the common fields; then the actor's (ACTOR).
local function emit(ev)
  local b, a = ev.before or {0, 0, 0, 0}, ev.after or {0, 0, 0, 0}
  if not ev.os and not ev.extra then  -- the common case: no table to build
    return redis.call('XADD', ev.stream, 'MAXLEN', '~', ev.maxlen, '*',
      't', ev.type, 'sku', ev.sku or '', 'loc', ev.loc or '',
      'doh', a[1] - b[1], 'drs', a[2] - b[2], 'dsf', a[3] - b[3], 'din', a[4] - b[4],
      'oh', a[1], 'rs', a[2], 'sf', a[3], 'in', a[4],
      'ab', atp_online(b), 'aa', atp_online(a),
      'why', ev.reason or '', 'rid', ev.rid or '', 'op', ev.op or '', 'ts', ev.now,
      unpack(ACTOR))
  end
  local args = {'XADD', ev.stream, 'MAXLEN', '~', ev.maxlen, '*',
    't', ev.type, 'sku', ev.sku or '', 'loc', ev.loc or '',
    'doh', a[1] - b[1], 'drs', a[2] - b[2], 'dsf', a[3] - b[3], 'din', a[4] - b[4],
    'oh', a[1], 'rs', a[2], 'sf', a[3], 'in', a[4],
    'ab', atp_online(b), 'aa', atp_online(a),
    'why', ev.reason or '', 'rid', ev.rid or '', 'op', ev.op or '', 'ts', ev.now}
  if ev.os then
    args[#args + 1] = 'os'
    args[#args + 1] = ev.os
  end
  if ev.extra then
    for _, v in ipairs(ev.extra) do args[#args + 1] = v end
  end
  for _, v in ipairs(ACTOR) do args[#args + 1] = v end
  return redis.call(unpack(args))
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
