-- The changes feed (changes/): the ledger's position events and the availability events
-- derived from them, in one total order. One sequencer at a time (an advisory lock held
-- by the connection that writes) reads the journal in each partition's stream order and
-- appends here, so rows become visible in seq order and a reader resuming after seq N
-- never misses one. GET /v1/changes, webhooks and alerts read from here.
CREATE TABLE changes (
    seq            bigint PRIMARY KEY,
    type           text NOT NULL,              -- a ledger type, a derived one, or 'reset'
    sku            text NOT NULL DEFAULT '',
    location       text NOT NULL DEFAULT '',   -- '' for a group's event
    location_group text NOT NULL DEFAULT '',   -- a group's event: its group
    channel        text NOT NULL DEFAULT '',   -- derived events: online | store
    event_id       text NOT NULL DEFAULT '',   -- the ledger event it comes from
    data           text NOT NULL,              -- the JSON object sent as SSE data / webhook data
    ts_ms          bigint NOT NULL,            -- when the ledger event happened
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changes_recorded_at ON changes (recorded_at);
-- A client resuming from before a ledger rebuild is sent the newest reset first.
CREATE INDEX changes_resets ON changes (seq) WHERE type = 'reset';

-- Where the sequencer has read each partition's journal up to (exclusive of nothing: the
-- last event it took), and the ledger epoch it last saw (a new one appends a 'reset').
CREATE TABLE change_cursors (
    partition  smallint PRIMARY KEY,
    stream_ms  bigint NOT NULL,
    stream_seq bigint NOT NULL
);
CREATE TABLE change_feed (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch      text NOT NULL DEFAULT '',
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each reader of the feed that must see every change once (webhooks, alerts): the last
-- seq it has recorded what it owes for, moved in the transaction that records it.
CREATE TABLE change_consumers (
    name       text PRIMARY KEY,
    seq        bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- low_stock: a threshold per SKU at a location or over a group (else the default).
CREATE TABLE low_stock_thresholds (
    sku            text NOT NULL,
    location       text NOT NULL DEFAULT '',
    location_group text NOT NULL DEFAULT '',
    threshold      integer NOT NULL CHECK (threshold >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, location, location_group),
    CHECK ((location = '') <> (location_group = ''))
);
