-- Journal helpers, prepended after atp/lua/_prelude.lua to the durability scripts.

-- Whether stream id a ('ms-seq') comes after b. Milliseconds stay exact in a Lua number.
local function stream_id_after(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  if a_ms ~= b_ms then return a_ms > b_ms end
  return tonumber(a_seq) > tonumber(b_seq)
end

-- Whether a stream still accounts for entry id: it is there, or it was the last id and was
-- deleted (a rebuild's marker), or trimming took it (the first entry is newer). False is a
-- hole: a failed-over master's replica never got it (issue 17).
local function stream_holds(stream, id)
  if #redis.call('XRANGE', stream, id, id) > 0 then return true end
  if redis.call('EXISTS', stream) == 0 then return false end
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' and info[i + 1] == id then return true end
  end
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  return #first > 0 and stream_id_after(first[1][1], id)
end
