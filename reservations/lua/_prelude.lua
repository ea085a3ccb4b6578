-- Reservation leg helpers, prepended after atp/lua/_prelude.lua to every reservation script.
-- A line is {sku, loc, qty, key}: key is its position key, which arrived in KEYS.
-- Leg hash: rid d st ch n, per line i: s<i> l<i> q<i> o<i> (open) f<i> (fulfilled)
--     r<i> (released) x<i> (expired or rolled back); op:<op_id> receipts;
--     ct: commit time ms (set when committed). A move (leg_move.lua) takes units off a line
--     (q<i> and o<i> fall) and adds them to the line of the same sku at the new location
--     (appended when there is none): one line per sku and location, indexes never change.
--     st: held | committed | closed (no unit open) | expired. reservations/layout.py names
--     these fields and states on the Python side (tests/reservations/test_layout.py).

-- Appends {sku, loc, requested, available} of each short line to `short`; returns the
-- positions read, for leg_hold to write from.
local function leg_check(lines, allow_safety, short)
  local before = {}
  for i, line in ipairs(lines) do
    local p = read_position(line.key)
    local available = p[1] - p[2]
    if not allow_safety then available = available - p[3] end
    if line.qty > available then
      if available < 0 then available = 0 end
      short[#short + 1] = line.sku; short[#short + 1] = line.loc
      short[#short + 1] = line.qty; short[#short + 1] = available
    end
    before[i] = p
  end
  return before
end

-- The position after a write, for the reply: the caller reads its own write from it.
local function append_pos(out, sku, loc, p)
  out[#out + 1] = sku; out[#out + 1] = loc
  out[#out + 1] = p[1]; out[#out + 1] = p[2]; out[#out + 1] = p[3]; out[#out + 1] = p[4]
end

-- leg: {key, stream, expiry, lines}; r: {rid, digest, channel, now, deadline, maxlen, out}
-- (out, when given, collects each line's position after the hold: append_pos)
local function leg_hold(leg, before, r)
  local fields = {'rid', r.rid, 'd', r.digest, 'st', 'held', 'ch', r.channel, 'n', #leg.lines}
  for i, line in ipairs(leg.lines) do
    local p = before[i]
    local after = {p[1], p[2] + line.qty, p[3], p[4]}
    write_position(line.key, after)
    if r.out then append_pos(r.out, line.sku, line.loc, after) end
    emit({stream = leg.stream, maxlen = r.maxlen, now = r.now, type = 'reserved', sku = line.sku,
      loc = line.loc, before = p, after = after, reason = r.channel, rid = r.rid})
    local s = tostring(i)
    for _, f in ipairs({'s' .. s, line.sku, 'l' .. s, line.loc, 'q' .. s, line.qty,
                        'o' .. s, line.qty, 'f' .. s, 0, 'r' .. s, 0, 'x' .. s, 0}) do
      fields[#fields + 1] = f
    end
  end
  redis.call('HSET', leg.key, unpack(fields))
  redis.call('ZADD', leg.expiry, r.deadline, 'l:' .. r.rid)
end

-- Returns a held leg's open units. mode 'expired' keeps the leg (state expired);
-- 'rolled_back' deletes it so the id can be tried again. pos_keys[i] is line i's position.
local function leg_unhold(leg_key, stream, expiry, pos_keys, rid, now, maxlen, retention, mode)
  redis.call('ZREM', expiry, 'l:' .. rid)
  local state = redis.call('HGET', leg_key, 'st')
  if state ~= 'held' then return {'noop', state or ''} end
  local n = tonumber(redis.call('HGET', leg_key, 'n'))
  for i = 1, n do
    local s = tostring(i)
    local line = redis.call('HMGET', leg_key, 's' .. s, 'l' .. s, 'o' .. s)
    local open = tonumber(line[3])
    if open > 0 then
      local p = read_position(pos_keys[i])
      local after = {p[1], p[2] - open, p[3], p[4]}
      write_position(pos_keys[i], after)
      emit({stream = stream, maxlen = maxlen, now = now, type = mode, sku = line[1],
        loc = line[2], before = p, after = after, reason = mode, rid = rid})
      redis.call('HSET', leg_key, 'o' .. s, 0)
      redis.call('HINCRBY', leg_key, 'x' .. s, open)
    end
  end
  if mode == 'rolled_back' then
    redis.call('DEL', leg_key)
  else
    redis.call('HSET', leg_key, 'st', 'expired')
    redis.call('EXPIRE', leg_key, retention)
  end
  return {'applied'}
end

-- The committed index (atp/keys.py committed_index): one member per open line of a
-- committed leg, `loc|sku|<commit ms>|rid`, so re-sourcing lists a position's newest
-- commitments first. Only commit, settle and move scripts keep it; never the hold path.
local function index_member(loc, sku, ct, rid)
  return loc .. '|' .. sku .. '|' .. string.format('%015d', ct) .. '|' .. rid
end

-- Makes the index hold exactly the leg's lines that have open units; stamps the leg's
-- commit time (ct) the first time. O(lines of the leg).
local function index_sync(leg_key, index_key, rid, now)
  local ct = tonumber(redis.call('HGET', leg_key, 'ct'))
  if not ct then
    ct = now
    redis.call('HSET', leg_key, 'ct', ct)
  end
  local n = tonumber(redis.call('HGET', leg_key, 'n')) or 0
  for i = 1, n do
    local s = tostring(i)
    local line = redis.call('HMGET', leg_key, 's' .. s, 'l' .. s, 'o' .. s)
    local member = index_member(line[2], line[1], ct, rid)
    if tonumber(line[3]) > 0 then
      redis.call('ZADD', index_key, 0, member)
    else
      redis.call('ZREM', index_key, member)
    end
  end
end
