-- journal_read: a partition's entries after the later of the caller's cursor and the
-- shared journal cursor (what some process already put in PostgreSQL), so the API's
-- workers do not each journal every event (durability/journal_cursor.py).
-- KEYS[1] the partition's stream  KEYS[2] its journal cursor
-- ARGV[1] the caller's cursor (ms-seq, exclusive; '0-0' for all)  ARGV[2] count
-- returns {start, entries}: start is where the read began (exclusive)
local start = ARGV[1]
local shared = redis.call('GET', KEYS[2])
if shared and stream_id_after(shared, start) then start = shared end
return {start, redis.call('XRANGE', KEYS[1], '(' .. start, '+', 'COUNT', ARGV[2])}
