-- Units registers sold beyond availability at a position (the ledger's `os` field, see
-- atp/pos.py). Only the events that change it carry it (a register's oversell or its
-- void, a count that settles it); NULL elsewhere. A rebuild restores each position's
-- latest value, so the rare rows get their own partial index.

ALTER TABLE ledger_events ADD COLUMN oversold bigint;

CREATE INDEX ledger_events_oversold ON ledger_events (sku, location, stream_ms, stream_seq)
    WHERE oversold IS NOT NULL;
