-- Webhooks (webhooks/): endpoints a caller registered and the deliveries owed to them,
-- fanned out from the changes feed (consumer 'webhooks' in change_consumers) or published
-- directly (alerts' alert.triggered). PostgreSQL alone: a Redis loss forgets none.
-- Times the deliverer schedules by are milliseconds since the epoch from its clock
-- (injectable in tests), not now(): the backoff schedule is tested without waiting hours.
CREATE TABLE webhook_endpoints (
    id              text PRIMARY KEY,
    url             text NOT NULL,
    -- Standard Webhooks secret (whsec_<base64>): kept, as signing needs it; shown once.
    secret          text NOT NULL,
    types           text[] NOT NULL,
    skus            text[] NOT NULL DEFAULT '{}',   -- empty: any
    locations       text[] NOT NULL DEFAULT '{}',   -- empty (and no groups): anywhere
    groups          text[] NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text NOT NULL DEFAULT '',
    -- The feed's head when registered: an endpoint gets changes after it, never history.
    start_seq       bigint NOT NULL,
    created_by      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    -- Also the order of deliveries for one endpoint and SKU: the lower id goes first.
    id              bigserial PRIMARY KEY,
    endpoint_id     text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    webhook_id      text NOT NULL,                 -- the webhook-id header, every attempt
    type            text NOT NULL,
    sku             text NOT NULL DEFAULT '',
    change_seq      bigint,                        -- NULL: published, not from the feed
    payload         text NOT NULL,                 -- the body: {type, timestamp, data}
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_ms bigint NOT NULL,
    lease_until_ms  bigint NOT NULL DEFAULT 0,     -- a claim's deadline: past it, anyone's
    lease_owner     text NOT NULL DEFAULT '',
    -- Age for the give-up rule counts from here (creation, or a manual redelivery).
    since_ms        bigint NOT NULL,
    last_status     integer,
    last_error      text NOT NULL DEFAULT '',
    last_attempt_ms bigint,
    delivered_ms    bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, webhook_id)               -- a re-run fan-out adds nothing
);
-- The deliverer's claim: pending deliveries in the order they fall due, each taken only
-- if no older one of its endpoint and SKU is pending (per-SKU order).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms, id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, sku, id)
    WHERE state = 'pending';
-- Listing an endpoint's deliveries (a state is a filter: dead letters are few or many).
-- Not (endpoint_id, state, id): on a table without statistics yet the planner took that
-- for the claim's per-SKU check and scanned every pending row of the endpoint per row.
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (endpoint_id, id);
