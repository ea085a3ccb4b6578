-- journal_advance: moves the shared journal cursor forward, never back (two processes may
-- journal the same entries and finish in either order).
-- KEYS[1] the partition's journal cursor  ARGV[1] the last entry now in PostgreSQL (ms-seq)
local current = redis.call('GET', KEYS[1])
if not current or stream_id_after(ARGV[1], current) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
