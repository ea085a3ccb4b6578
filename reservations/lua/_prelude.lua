-- Reservation leg helpers, prepended after atp/lua/_prelude.lua to every reservation script.
-- Leg hash: d st ch n (its key names the reservation), per line i: s<i> l<i> q<i> o<i>
--     (open) f<i> (fulfilled) r<i> (released) x<i> (expired or rolled back); op:<op_id>
--     receipts; ct: commit time ms (set when committed). f<i>, r<i> and x<i> are absent
--     until they count a unit (HINCRBY creates them; absent reads as 0): a hold writes no
--     zeros. A move (leg_move.lua) takes units off a line (q<i> and o<i> fall) and adds
--     them to the line of the same sku at the new location (appended when there is none):
--     one line per sku and location, indexes never change.
--     st: held | committed | closed (no unit open) | expired. reservations/layout.py names
--     these fields and states on the Python side (tests/reservations/test_layout.py).
-- A leg arrives in a script's KEYS and ARGV as: KEYS[k] the leg, [k + 1] its partition's
--     stream, [k + 2] its partition's expiry index, [k + 2 + i] line i's position; ARGV[a +
--     3i - 2], [a + 3i - 1], [a + 3i]: line i's sku, location and qty. reserve_atomic passes
--     several legs in a row, reserve_leg and leg_expire one. The helpers read lines where
--     they arrive: no table is built per line.

-- Line indexes as text: a line's field is its prefix and its index (s1, o1, ...), and a
-- number concatenated into a string is formatted with %.14g (dear); most legs are short.
local INDEX = {'1', '2', '3', '4', '5', '6', '7', '8'}

local function index_text(i)
  return INDEX[i] or int_text(i)
end

-- The position after a write, for the reply: the caller reads its own write from it.
local function append_pos(out, sku, loc, oh, rs, sf, inc)
  out[#out + 1] = sku; out[#out + 1] = loc
  out[#out + 1] = oh; out[#out + 1] = rs; out[#out + 1] = sf; out[#out + 1] = inc
end

-- Every line's sku, location and open units of a leg of n lines, in one HMGET: v[3i - 2],
-- v[3i - 1] and v[3i] are line i's.
local function read_lines(leg_key, n)
  if n == 0 then return {} end
  local names = {}
  for i = 1, n do
    local s = index_text(i)
    names[#names + 1] = 's' .. s; names[#names + 1] = 'l' .. s; names[#names + 1] = 'o' .. s
  end
  return redis.call('HMGET', leg_key, unpack(names))
end

-- Reads each line's position once into `reads` (leg_hold writes from these reads) and
-- appends {sku, loc, requested, available} of each short line to `short`.
local function leg_check(k, a, n, allow_safety, reads, short)
  for i = 1, n do
    local p = redis.call('HMGET', KEYS[k + 2 + i], 'oh', 'rs', 'sf', 'in')
    local available = (tonumber(p[1]) or 0) - (tonumber(p[2]) or 0)
    if not allow_safety then available = available - (tonumber(p[3]) or 0) end
    local qty = tonumber(ARGV[a + 3 * i])
    if qty > available then
      if available < 0 then available = 0 end
      short[#short + 1] = ARGV[a + 3 * i - 2]; short[#short + 1] = ARGV[a + 3 * i - 1]
      short[#short + 1] = qty; short[#short + 1] = available
    end
    reads[#reads + 1] = p
  end
end

-- Holds a checked leg: each line's reserved rises by its qty (one HINCRBY: the position's
-- only write), a `reserved` event per line, the leg hash and the leg's deadline. reads[at +
-- i] is line i's position as leg_check read it; its values go on as they were read (text),
-- as does the qty (an ARGV): nothing is formatted only to be stored.
-- r: {rid, digest, channel, now, deadline, maxlen, out} (now and deadline as text); out,
-- when given, collects each line's sku, location and position after the hold: the caller
-- reads its own write from it.
local function leg_hold(k, a, n, reads, at, r)
  local leg_key, stream, out = KEYS[k], KEYS[k + 1], r.out
  local fields = {'d', r.digest, 'st', 'held', 'ch', r.channel, 'n', index_text(n)}
  for i = 1, n do
    local sku, loc, qty = ARGV[a + 3 * i - 2], ARGV[a + 3 * i - 1], ARGV[a + 3 * i]
    local p = reads[at + i]
    local oh, sf, inc = p[1] or '0', p[3] or '0', p[4] or '0'
    local rs = int_text(redis.call('HINCRBY', KEYS[k + 2 + i], 'rs', qty))
    emit_reserved(stream, r.maxlen, r.now, sku, loc, oh, rs, sf, inc, qty, r.channel, r.rid)
    if out then append_pos(out, sku, loc, oh, rs, sf, inc) end
    local s = index_text(i)
    fields[#fields + 1] = 's' .. s; fields[#fields + 1] = sku
    fields[#fields + 1] = 'l' .. s; fields[#fields + 1] = loc
    fields[#fields + 1] = 'q' .. s; fields[#fields + 1] = qty
    fields[#fields + 1] = 'o' .. s; fields[#fields + 1] = qty
  end
  redis.call('HSET', leg_key, unpack(fields))
  redis.call('ZADD', KEYS[k + 2], r.deadline, 'l:' .. r.rid)
end

-- The `reservation_held` event, which carries what the journal records of the header
-- (durability/store.py): channel (why), creation (ts), digest, deadline and leg partitions.
local function emit_held(stream, maxlen, now, rid, channel, digest, expires, parts)
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 't', 'reservation_held',
    'ts', now, 'why', channel, 'rid', rid, 'd', digest, 'exp', expires, 'parts', parts,
    unpack(ACTOR))
end

-- Returns a held leg's open units (the leg arrives at KEYS[k], every line's position after
-- it; now: the time as text). mode 'expired' keeps the leg (state expired); 'rolled_back'
-- deletes it so the id can be tried again.
local function leg_unhold(k, rid, now, maxlen, retention, mode)
  local leg_key, stream = KEYS[k], KEYS[k + 1]
  redis.call('ZREM', KEYS[k + 2], 'l:' .. rid)
  local leg = redis.call('HMGET', leg_key, 'st', 'n')
  if leg[1] ~= 'held' then return {'noop', leg[1] or ''} end
  local n = tonumber(leg[2])
  local v = read_lines(leg_key, n)
  local fields = {'st', 'expired'}  -- written unless the leg is deleted (rolled back)
  for i = 1, n do
    local open = tonumber(v[3 * i])
    if open > 0 then
      local key = KEYS[k + 2 + i]
      local p = read_position(key)
      local after = {p[1], p[2] - open, p[3], p[4]}
      redis.call('HSET', key, 'rs', int_text(after[2]))  -- only reserved changes
      emit({stream = stream, maxlen = maxlen, now = now, type = mode, sku = v[3 * i - 2],
        loc = v[3 * i - 1], before = p, after = after, reason = mode, rid = rid})
      local s = index_text(i)
      fields[#fields + 1] = 'o' .. s; fields[#fields + 1] = '0'
      redis.call('HINCRBY', leg_key, 'x' .. s, open)
    end
  end
  if mode == 'rolled_back' then
    redis.call('DEL', leg_key)
  else
    redis.call('HSET', leg_key, unpack(fields))
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

-- Makes the index hold exactly the leg's lines that have open units. ct: the leg's commit
-- time (stamped by its commit); lines: read_lines's reply for its n lines, as they are now.
-- O(lines of the leg).
local function index_sync(index_key, rid, ct, n, lines)
  for i = 1, n do
    local member = index_member(lines[3 * i - 1], lines[3 * i - 2], ct, rid)
    if tonumber(lines[3 * i]) > 0 then
      redis.call('ZADD', index_key, 0, member)
    else
      redis.call('ZREM', index_key, member)
    end
  end
end
