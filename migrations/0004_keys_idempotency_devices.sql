-- What a Redis loss must not take with it (issue 10): API keys, the answers retries replay,
-- and which store each register belongs to. Redis caches none of these: each API process
-- keeps the keys it has verified in memory for a couple of seconds.

CREATE TABLE api_keys (
    key_id       text PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{1,32}$'),
    digest       text NOT NULL,            -- SHA-256 of the whole key; the key is shown once
    name         text NOT NULL DEFAULT '',
    scopes       text[] NOT NULL,
    locations    text[],                   -- NULL: any location; else the stores it acts at
    channels     text[] NOT NULL,          -- the channels it may hold and sell on
    rate_per_s   double precision,         -- NULL: the server's default
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT '',
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- One row per (calling key, Idempotency-Key). A pending row belongs to the process whose
-- instance id is `owner`; that process holds the advisory lock (LOCK_INSTANCE_CLASS, owner)
-- on a session of its own while it lives, so a retry can tell a request still running from
-- one whose worker died (and take it over at once). A claim older than the API's
-- IDEMPOTENCY_PENDING_S is taken over too (its request cannot still be waiting).
CREATE TABLE idempotency_records (
    key_id       text NOT NULL,
    key_hash     text NOT NULL,
    digest       text NOT NULL,
    pending      boolean NOT NULL,
    owner        integer NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    status       integer NOT NULL DEFAULT 0,
    body         bytea NOT NULL DEFAULT ''::bytea,
    content_type text NOT NULL DEFAULT '',
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (key_id, key_hash)
);
CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);

-- A register (POS device) belongs to one store: its sales, returns and voids happen there.
CREATE TABLE pos_devices (
    device_id     text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    location      text NOT NULL,
    name          text NOT NULL DEFAULT '',
    registered_by text NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now()
);
