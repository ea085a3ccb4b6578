-- The ledger journal: every event of every partition stream, keyed by its event id
-- "<partition>-<stream ms>-<stream seq>" split into its parts so that ordering by the
-- primary key is the streams' order. Writers insert with ON CONFLICT DO NOTHING: a replay
-- writes nothing twice.

CREATE TABLE ledger_events (
    partition      smallint NOT NULL,
    stream_ms      bigint NOT NULL,
    stream_seq     bigint NOT NULL,
    type           text NOT NULL,
    sku            text NOT NULL,
    location       text NOT NULL,
    d_on_hand      bigint NOT NULL,
    d_reserved     bigint NOT NULL,
    d_safety       bigint NOT NULL,
    d_incoming     bigint NOT NULL,
    on_hand        bigint NOT NULL,
    reserved       bigint NOT NULL,
    safety         bigint NOT NULL,
    incoming       bigint NOT NULL,
    atp_before     bigint NOT NULL,
    atp_after      bigint NOT NULL,
    reason         text NOT NULL,
    reservation_id text NOT NULL,
    op_id          text NOT NULL,
    ts_ms          bigint NOT NULL,
    PRIMARY KEY (partition, stream_ms, stream_seq)
);

-- Rebuild folds a reservation's events and the incoming supply events; both are a small
-- share of the journal, so partial indexes keep the insert cost low.
CREATE INDEX ledger_events_reservation ON ledger_events (reservation_id)
    WHERE reservation_id <> '';
CREATE INDEX ledger_events_incoming ON ledger_events (sku, location)
    WHERE type IN ('incoming_added', 'incoming_removed');
CREATE INDEX ledger_events_op ON ledger_events (ts_ms)
    WHERE op_id <> '' AND type IN ('adjusted', 'counted', 'safety_set');

CREATE VIEW ledger_events_by_id AS
    SELECT partition || '-' || stream_ms || '-' || stream_seq AS event_id, *
    FROM ledger_events;

-- The position after the newest journaled event of each (sku, location): what a rebuild
-- loads. Writers update a row only with a newer event (events of one SKU share a
-- partition, so (stream_ms, stream_seq) orders them), so batches may commit in any order.
CREATE TABLE positions (
    sku        text NOT NULL,
    location   text NOT NULL,
    on_hand    bigint NOT NULL,
    reserved   bigint NOT NULL,
    safety     bigint NOT NULL,
    incoming   bigint NOT NULL,
    stream_ms  bigint NOT NULL,
    stream_seq bigint NOT NULL,
    PRIMARY KEY (sku, location)
);

-- Reservation headers as the journal last saw them. State only moves forward (rank), so
-- out-of-order batches cannot move a committed reservation back to held.
CREATE TABLE reservations (
    id            text PRIMARY KEY,
    channel       text NOT NULL DEFAULT '',
    state         text NOT NULL,
    state_rank    smallint NOT NULL,
    digest        text NOT NULL DEFAULT '',
    expires_at_ms bigint NOT NULL DEFAULT 0,
    created_ms    bigint NOT NULL DEFAULT 0,
    parts         text NOT NULL DEFAULT '',
    updated_ms    bigint NOT NULL
);
CREATE INDEX reservations_live ON reservations (id) WHERE state IN ('held', 'committed');

-- One row per ledger incarnation. Redis holds the current epoch under atp:{meta}:epoch;
-- an engine that finds it missing (Redis restarted empty) rebuilds before serving.
CREATE TABLE ledger_epochs (
    epoch        bigserial PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL,
    positions    bigint NOT NULL DEFAULT 0,
    reservations bigint NOT NULL DEFAULT 0,
    seconds      double precision NOT NULL DEFAULT 0
);
