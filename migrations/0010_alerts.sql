-- Back-in-stock alerts (alerts/): subscriptions with their consent, the restocks that
-- trigger them (read from the changes feed), each notification sent, opens, resends and
-- the orders that followed. PostgreSQL alone: nothing here depends on Redis.

CREATE TABLE alert_subscriptions (
    id                text PRIMARY KEY,
    seq               bigserial NOT NULL UNIQUE,      -- oldest first: the order of notification
    contact_kind      text NOT NULL CHECK (contact_kind IN ('email', 'phone')),
    contact           text NOT NULL,                  -- normalised (alerts/rules.py)
    sku               text NOT NULL,
    location          text NOT NULL DEFAULT '',       -- one of location and location_group
    location_group    text NOT NULL DEFAULT '',
    channel           text NOT NULL CHECK (channel IN ('online', 'store')),
    consent_at        timestamptz NOT NULL,
    consent_source    text NOT NULL,
    unsubscribe_token text NOT NULL UNIQUE,
    -- waiting: to be told at a restock; notified: told once; unsubscribed: never again
    state             text NOT NULL DEFAULT 'waiting'
                      CHECK (state IN ('waiting', 'notified', 'unsubscribed')),
    created_by        text NOT NULL DEFAULT '',       -- the API key that signed it up
    created_at        timestamptz NOT NULL,
    ended_at          timestamptz,
    CHECK ((location = '') <> (location_group = ''))
);
-- The same contact, SKU and scope signs up once while waiting.
CREATE UNIQUE INDEX alert_subscriptions_one_waiting
    ON alert_subscriptions (contact_kind, contact, sku, location, location_group, channel)
    WHERE state = 'waiting';
-- A restock's queue: the oldest waiting subscribers of one scope.
CREATE INDEX alert_subscriptions_queue
    ON alert_subscriptions (sku, location, location_group, channel, seq)
    WHERE state = 'waiting';

-- A back_in_stock change of a scope someone waits for, recorded with the feed's cursor
-- (change_consumers row 'alerts') in one transaction; done once its sends are recorded.
CREATE TABLE alert_triggers (
    id             bigserial PRIMARY KEY,
    change_seq     bigint NOT NULL UNIQUE,
    sku            text NOT NULL,
    location       text NOT NULL DEFAULT '',
    location_group text NOT NULL DEFAULT '',
    channel        text NOT NULL,
    event_id       text NOT NULL DEFAULT '',
    data           text NOT NULL,                     -- the change's JSON
    notified       integer NOT NULL DEFAULT 0,        -- subscribers told so far
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    done_at        timestamptz
);
CREATE INDEX alert_triggers_pending ON alert_triggers (id) WHERE done_at IS NULL;

-- One notification of one subscriber (an alert.triggered webhook event, published in the
-- transaction that records it), its open, and its one resend.
CREATE TABLE alert_sends (
    id              text PRIMARY KEY,
    subscription_id text NOT NULL REFERENCES alert_subscriptions (id),
    trigger_id      bigint NOT NULL REFERENCES alert_triggers (id),
    contact_kind    text NOT NULL,
    contact         text NOT NULL,
    sku             text NOT NULL,
    location        text NOT NULL DEFAULT '',
    location_group  text NOT NULL DEFAULT '',
    channel         text NOT NULL,
    window_kind     text NOT NULL CHECK (window_kind IN ('now', 'incoming')),
    window_location text NOT NULL,
    window_day      date NOT NULL,
    window_text     text NOT NULL,
    sent_at         timestamptz NOT NULL,
    opened_at       timestamptz,
    resend_due_at   timestamptz,                      -- null once opened, resent or skipped
    resent_at       timestamptz,
    resend_skipped  text                              -- why no resend: unavailable, unsubscribed
);
CREATE INDEX alert_sends_resend_due ON alert_sends (resend_due_at)
    WHERE resend_due_at IS NOT NULL;
CREATE INDEX alert_sends_contact ON alert_sends (contact_kind, contact, sku, sent_at);
CREATE INDEX alert_sends_sent_at ON alert_sends (sent_at);

-- An order counted as following an alert (alerts/conversions.py record_order): it named
-- the send, or came from its contact for its SKU within 48 hours. Once per order.
CREATE TABLE alert_conversions (
    order_id   text PRIMARY KEY,
    send_id    text NOT NULL REFERENCES alert_sends (id),
    how        text NOT NULL CHECK (how IN ('named', 'contact')),
    ordered_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_conversions_send ON alert_conversions (send_id);
