-- Prices (orders/prices.py, rules in orders/price_rules.py): each PUT of a SKU's price
-- that changes it records a new version, in force from its valid_from (the PUT's time)
-- until the next version's. The price at an instant is the version in force then: its
-- promotion's price within [promotion_from, promotion_to), else its list price. Every
-- channel asks the same table, so every channel gets one answer. Versions are never
-- updated or deleted: what a sale was compared against stays readable.
CREATE TABLE prices (
    sku             text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    list_price      numeric(12, 2) NOT NULL CHECK (list_price >= 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),  -- ISO 4217
    promotion_price numeric(12, 2) CHECK (promotion_price >= 0),
    promotion_from  timestamptz,
    promotion_to    timestamptz,
    valid_from      timestamptz NOT NULL,
    created_by      text NOT NULL DEFAULT '',
    PRIMARY KEY (sku, version),
    -- A promotion is all three or none, lower than or equal to the list price, and a
    -- window that ends after it starts.
    CHECK ((promotion_price IS NULL) = (promotion_from IS NULL)
        AND (promotion_price IS NULL) = (promotion_to IS NULL)),
    CHECK (promotion_price IS NULL OR promotion_price <= list_price),
    CHECK (promotion_to > promotion_from)
);
-- The version in force at an instant.
CREATE INDEX prices_in_force ON prices (sku, valid_from DESC, version DESC);

-- Sales (orders, register sales) at a price other than the one in force when sold: the
-- price-mismatch KPI counts these rows. One row per sale and SKU, so a retried record
-- never counts twice.
CREATE TABLE price_mismatches (
    id             bigserial PRIMARY KEY,
    sale_ref       text NOT NULL,  -- where: the order id or the register event id
    sku            text NOT NULL,
    channel        text NOT NULL,
    location       text,           -- the store or DC that sold it, when known
    sold_price     numeric(12, 2) NOT NULL,
    sold_currency  text NOT NULL,
    price          numeric(12, 2) NOT NULL,  -- the price in force at `at`
    currency       text NOT NULL,
    price_version  integer NOT NULL,
    at             timestamptz NOT NULL,     -- when it was sold
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sale_ref, sku),
    FOREIGN KEY (sku, price_version) REFERENCES prices (sku, version)
);
CREATE INDEX price_mismatches_at ON price_mismatches (at);
