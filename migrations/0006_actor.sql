-- Who did it (issue 10): the acting party of every event, and the reference given with the
-- write. Appended after 0005's columns: journal/store.py inserts in this column order.
--   actor: the API key id of an HTTP write, 'system:sweeper' (expiries),
--     'system:resourcer' (re-sourcing moves and flags), 'cli' or 'import:<file>' (`atp`
--     commands); '' for events written before this migration or by nobody in particular.
--   reference: the request's Atp-Reference header (a purchase order, an order id, a
--     transfer, a free note); '' when none was given.

ALTER TABLE ledger_events
    ADD COLUMN actor text NOT NULL DEFAULT '',
    ADD COLUMN reference text NOT NULL DEFAULT '';

-- A position's history, newest first (GET /v1/stock/{sku}/{location}/history).
CREATE INDEX ledger_events_history ON ledger_events (sku, location, stream_ms DESC, stream_seq DESC)
    WHERE sku <> '';
