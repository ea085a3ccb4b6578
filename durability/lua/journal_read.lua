-- journal_read: a partition's entries after the later of the caller's cursor and the
-- shared journal cursor (what some process already put in PostgreSQL), so the API's
-- workers do not each journal every event (durability/journal_cursor.py); answered only
-- from a partition that still holds its copy of the ledger epoch (atp:{pNN}:epoch, read in
-- the same step: entries of a master that restarted empty are never journaled).
-- KEYS[1] the partition's stream  KEYS[2] its journal cursor  KEYS[3] its epoch copy
-- ARGV[1] the caller's cursor (ms-seq, exclusive; '0-0' for all)  ARGV[2] count
-- returns {epoch, start, entries}: start is where the read began (exclusive); epoch is nil
-- (and entries empty) when the copy is gone, or when the stream no longer holds the entry
-- the read begins after (a replica promoted without entries already journaled: the
-- caller then checks the ledger, durability/rebuild.py ledger_state, and rebuilds it)
local epoch = redis.call('GET', KEYS[3])
if not epoch then return {false, ARGV[1], {}} end
local start = ARGV[1]
local shared = redis.call('GET', KEYS[2])
if shared and stream_id_after(shared, start) then start = shared end
if start ~= '0-0' and not stream_holds(KEYS[1], start) then return {false, start, {}} end
return {epoch, start, redis.call('XRANGE', KEYS[1], '(' .. start, '+', 'COUNT', ARGV[2])}
