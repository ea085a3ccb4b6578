-- Register (POS) sales and returns that carry a customer or the price they were sold at
-- (orders/register_sales.py, pure rules in orders/register_sale_rules.py). The ledger keeps
-- every register event; this row keeps what the ledger does not: who bought and at what
-- price. A customer's history reads these rows through the identities they carry, as it
-- reads orders, so a merge rewrites none; the KPIs count priced sales on the store channel.
CREATE TABLE register_sales (
    id             bigserial PRIMARY KEY,
    device_id      text NOT NULL,
    event_id       text NOT NULL,  -- the register's event id: one row however often replayed
    kind           text NOT NULL CHECK (kind IN ('sale', 'return')),
    location       text NOT NULL,
    sku            text NOT NULL,
    qty            integer NOT NULL CHECK (qty >= 1),
    unit_price     numeric(12, 2) CHECK (unit_price >= 0),
    currency       text CHECK (currency ~ '^[A-Z]{3}$'),  -- as sold, else the SKU's then
    -- The identities carried, normalized (as orders' columns of the same names), and the
    -- customer they joined when recorded.
    customer_id    text,
    customer_email text,
    customer_phone text,
    customer       text REFERENCES customers (id),
    digest         text NOT NULL,  -- of the price and customer: a replay with others conflicts
    occurred_at    timestamptz NOT NULL,  -- the register's time of the sale
    voided_at      timestamptz,           -- a void's time: it no longer counts
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, event_id),
    CHECK (kind = 'sale' OR unit_price IS NULL),
    CHECK (currency IS NULL OR unit_price IS NOT NULL)
);
CREATE INDEX register_sales_customer ON register_sales (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX register_sales_email ON register_sales (customer_email)
    WHERE customer_email IS NOT NULL;
CREATE INDEX register_sales_phone ON register_sales (customer_phone)
    WHERE customer_phone IS NOT NULL;
CREATE INDEX register_sales_occurred ON register_sales (occurred_at);
