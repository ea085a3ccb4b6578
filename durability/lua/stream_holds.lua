-- stream_holds: whether a partition's stream still accounts for an entry (the rule is the
-- prelude's stream_holds, which journal_read applies to every read too).
-- KEYS[1] the stream  ARGV[1] the entry id (ms-seq)
-- returns 1 | 0
if stream_holds(KEYS[1], ARGV[1]) then return 1 end
return 0
