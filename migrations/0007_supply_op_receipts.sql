-- A rebuild restores the receipts of supply writes made with an op id (receive, cancel,
-- re-date) within retention: a partial index keeps that look-up off the whole journal.
CREATE INDEX ledger_events_supply_op ON ledger_events (ts_ms)
    WHERE op_id <> '' AND type IN ('incoming_received', 'incoming_cancelled', 'incoming_redated');
