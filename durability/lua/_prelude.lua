-- Journal helpers, prepended after atp/lua/_prelude.lua to the durability scripts.

-- Whether stream id a ('ms-seq') comes after b. Milliseconds stay exact in a Lua number.
local function stream_id_after(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  if a_ms ~= b_ms then return a_ms > b_ms end
  return tonumber(a_seq) > tonumber(b_seq)
end
