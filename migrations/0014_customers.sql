-- Customers joined across channels (orders/customers.py, pure rules in
-- orders/customer_rules.py): a customer is found by any of its identities (an account id,
-- a normalised email or phone); each identity belongs to one customer. Orders and their
-- returns are joined to a customer through the identities they carry, at read time, so a
-- merge moves identities and every history follows.

CREATE TABLE customers (
    id          text PRIMARY KEY,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Merged explicitly into another customer (always the survivor itself: merges
    -- re-point whatever pointed here), whose answer reads of this id get.
    merged_into text REFERENCES customers (id),
    CHECK (merged_into IS NULL OR merged_into <> id)
);
CREATE INDEX customers_merged ON customers (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE customer_identities (
    kind        text NOT NULL CHECK (kind IN ('id', 'email', 'phone')),
    value       text NOT NULL,
    customer_id text NOT NULL REFERENCES customers (id),
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);
CREATE INDEX customer_identities_customer ON customer_identities (customer_id);

-- Every explicit merge, once: who merged which into which, and the identities it moved.
CREATE TABLE customer_merges (
    other      text PRIMARY KEY REFERENCES customers (id),
    survivor   text NOT NULL REFERENCES customers (id),
    identities jsonb NOT NULL,                        -- [{kind, value}] moved
    merged_at  timestamptz NOT NULL DEFAULT now(),
    merged_by  text NOT NULL DEFAULT ''
);
CREATE INDEX customer_merges_survivor ON customer_merges (survivor);
