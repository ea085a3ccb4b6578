-- Orders and the store work around them (orders/): orders with their lines, each step
-- recorded once, shipments, returns, transfers between locations, cart handoff codes, the
-- versioned policies returns and pickups are judged by, and the stores' pickup settings.
--
-- A step that also writes the ledger is begun here first (pending_step), then written to
-- the ledger under an op id derived from the row, then recorded: the recovery sweep
-- (orders/recovery.py) finishes any step whose process died in between, so a row and the
-- ledger never disagree for longer than the sweep's grace.

-- Pickup settings of a store (catalog): closed days, the cut-off before closing, and how
-- many pickup orders an hour it stages (0: the queue is not counted).
ALTER TABLE locations
    ADD COLUMN holidays                 date[] NOT NULL DEFAULT '{}',
    ADD COLUMN pickup_cutoff_minutes    integer NOT NULL DEFAULT 30
        CHECK (pickup_cutoff_minutes BETWEEN 0 AND 720),
    ADD COLUMN pickup_capacity_per_hour integer NOT NULL DEFAULT 0
        CHECK (pickup_capacity_per_hour >= 0);

-- Versioned policies (returns: window and conditions; pickup: the collection window).
-- A new version is a new row; the one in force is the highest version.
CREATE TABLE policies (
    name       text NOT NULL,
    version    integer NOT NULL CHECK (version >= 1),
    terms      jsonb NOT NULL,
    text       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT '',
    PRIMARY KEY (name, version)
);
INSERT INTO policies (name, version, terms, text, created_by) VALUES
    ('returns', 1,
     '{"window_days": 30, "conditions": ["new", "opened"],
       "damaged_reasons": ["defective", "damaged_in_transit", "wrong_item"]}',
     'Return within {window_days} days at any store, new or opened. A damaged item is '
     'taken back when it came defective, damaged or wrong.', 'migration'),
    ('pickup', 1, '{"collect_within_hours": 72}',
     'We hold your order for {collect_within_hours} hours after it is ready.', 'migration');

CREATE TABLE orders (
    id                text PRIMARY KEY,
    seq               bigserial NOT NULL UNIQUE,      -- list order and cursor
    channel           text NOT NULL CHECK (channel IN ('online', 'store')),
    method            text NOT NULL CHECK (method IN ('ship', 'pickup', 'curbside', 'same_day')),
    location          text,                           -- the pickup store
    ship_to           jsonb,
    customer_id       text,
    customer_email    text,                           -- normalised (alerts/rules.py)
    customer_phone    text,
    customer_name     text,
    reservation_id    text NOT NULL UNIQUE,
    digest            text NOT NULL,                  -- the body: an id reused with another is 409
    state             text NOT NULL,
    -- A step begun and not yet recorded (its ledger write may or may not have happened).
    pending_step      text,
    pending_since     timestamptz,
    pending_detail    jsonb,
    shipments_plan    jsonb NOT NULL DEFAULT '[]',   -- [{location, lines: [{sku, qty}]}]
    refusal           jsonb,                          -- why a rejected order was refused
    alert_send_id     text,
    created_by        text NOT NULL DEFAULT '',
    order_received_at timestamptz NOT NULL,
    promised_at       timestamptz,
    promise_text      text,
    confirmed_at      timestamptz,
    cancelled_at      timestamptz,
    expired_at        timestamptz,
    picking_at        timestamptz,
    staged_at         timestamptz,
    ready_at          timestamptz,
    arrived_at        timestamptz,
    bay               text,
    picked_up_at      timestamptz,
    no_show_at        timestamptz,
    shipped_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id, seq) WHERE customer_id IS NOT NULL;
CREATE INDEX orders_email ON orders (customer_email, seq) WHERE customer_email IS NOT NULL;
CREATE INDEX orders_phone ON orders (customer_phone, seq) WHERE customer_phone IS NOT NULL;
CREATE INDEX orders_location ON orders (location, seq) WHERE location IS NOT NULL;
CREATE INDEX orders_state ON orders (state, seq);
CREATE INDEX orders_pending ON orders (pending_since) WHERE pending_step IS NOT NULL;
-- A store's measured stage time reads its recent staged orders.
CREATE INDEX orders_staged ON orders (location, staged_at) WHERE staged_at IS NOT NULL;

CREATE TABLE order_lines (
    order_id   text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no    integer NOT NULL,
    sku        text NOT NULL,
    qty        integer NOT NULL CHECK (qty > 0),
    unit_price numeric(12, 2),
    delivered  integer NOT NULL DEFAULT 0 CHECK (delivered BETWEEN 0 AND qty),  -- shipped or picked up
    returned   integer NOT NULL DEFAULT 0 CHECK (returned BETWEEN 0 AND delivered),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_sku ON order_lines (sku);

-- Each step of an order, once, with its time and who did it.
CREATE TABLE order_steps (
    seq      bigserial NOT NULL UNIQUE,               -- the order they were recorded in
    order_id text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    step     text NOT NULL,
    at       timestamptz NOT NULL,
    actor    text NOT NULL DEFAULT '',
    detail   jsonb,
    PRIMARY KEY (order_id, step)
);

CREATE TABLE shipments (
    order_id   text NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    id         text NOT NULL,
    location   text NOT NULL,
    lines      jsonb NOT NULL,                        -- [{sku, qty}]
    carrier    text NOT NULL,
    tracking   text NOT NULL,
    digest     text NOT NULL,
    state      text NOT NULL CHECK (state IN ('pending', 'shipped')),
    pending_since timestamptz,
    shipped_at timestamptz,
    created_by text NOT NULL DEFAULT '',
    PRIMARY KEY (order_id, id)
);

CREATE TABLE returns (
    id                  text PRIMARY KEY,
    seq                 bigserial NOT NULL UNIQUE,
    order_id            text NOT NULL REFERENCES orders (id),
    location            text NOT NULL,
    lines               jsonb NOT NULL,               -- [{sku, qty, reason, condition}]
    digest              text NOT NULL,
    policy_name         text NOT NULL,
    policy_version      integer NOT NULL,
    state               text NOT NULL CHECK (state IN ('pending', 'received', 'refund_initiated')),
    pending_since       timestamptz,
    return_received_at  timestamptz,
    refund_initiated_at timestamptz,
    refund_amount       numeric(12, 2),
    created_by          text NOT NULL DEFAULT ''
);
CREATE INDEX returns_order ON returns (order_id);
CREATE INDEX returns_pending ON returns (pending_since) WHERE state = 'pending';

-- Units that came back damaged: counted where they landed, never sellable.
CREATE TABLE non_sellable_stock (
    sku        text NOT NULL,
    location   text NOT NULL,
    qty        integer NOT NULL CHECK (qty >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, location)
);

CREATE TABLE transfers (
    id            text PRIMARY KEY,
    seq           bigserial NOT NULL UNIQUE,
    sku           text NOT NULL,
    from_location text NOT NULL,
    to_location   text NOT NULL CHECK (to_location <> from_location),
    qty           integer NOT NULL CHECK (qty > 0),
    received      integer NOT NULL DEFAULT 0 CHECK (received BETWEEN 0 AND qty),
    expected_on   date NOT NULL,
    digest        text NOT NULL,
    -- pending: begun (the sweep finishes it); in_transit; received; cancelled
    state         text NOT NULL CHECK (state IN ('pending', 'in_transit', 'received', 'cancelled')),
    pending_step  text,
    pending_since timestamptz,
    pending_detail jsonb,
    created_by    text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    shipped_at    timestamptz,
    received_at   timestamptz,
    cancelled_at  timestamptz
);
CREATE INDEX transfers_pending ON transfers (pending_since) WHERE pending_step IS NOT NULL;

-- A held online reservation's short code: a register at the held store completes it.
CREATE TABLE handoff_codes (
    code           text PRIMARY KEY,
    reservation_id text NOT NULL UNIQUE,
    location       text NOT NULL,
    created_by     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    pending_since  timestamptz,
    completed_at   timestamptz,
    completed_by   text
);
