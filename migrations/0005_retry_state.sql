-- What a client's retry depends on, journaled so a rebuild restores it (journal/registers.py,
-- journal/legs.py, journal/rebuild.py). All NULL on the events that do not carry them.
--   device_id, device_event, device_seq, body_digest: a register event (atp/pos.py) as its
--     device log holds it; target_digest: a void's target's body digest.
--   op_digest: the request digest of a fulfil or release with an op id (its leg receipt).
-- Route records (type reservation_routed) and location groups (type group_defined) are
-- header-like events (no sku) whose reason holds the record.

ALTER TABLE ledger_events
    ADD COLUMN device_id text,
    ADD COLUMN device_event text,
    ADD COLUMN device_seq bigint,
    ADD COLUMN body_digest text,
    ADD COLUMN target_digest text,
    ADD COLUMN op_digest text;

CREATE INDEX ledger_events_register ON ledger_events (ts_ms) WHERE device_id IS NOT NULL;
CREATE INDEX ledger_events_records ON ledger_events (type, ts_ms)
    WHERE type IN ('reservation_routed', 'group_defined');
