-- Order-aware support (issue 15, orders/support.py): tickets about orders and their
-- replies, so first-contact resolution can be measured. A ticket's counts are kept with
-- it (one row to read for the KPI); its replies are numbered 1, 2, ... per ticket.
CREATE TABLE support_tickets (
    id          text PRIMARY KEY,
    seq         bigserial NOT NULL UNIQUE,
    order_id    text REFERENCES orders (id),
    customer_id text,
    topic       text NOT NULL CHECK (topic IN ('late_pickup', 'refund', 'back_order',
                    'where_is_my_order', 'promise_dispute', 'other')),
    channel     text NOT NULL CHECK (channel IN ('chat', 'email', 'phone', 'store')),
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    agent_replies    integer NOT NULL DEFAULT 0 CHECK (agent_replies >= 0),
    customer_replies integer NOT NULL DEFAULT 0 CHECK (customer_replies >= 0),
    created_by  text NOT NULL DEFAULT ''
);
CREATE INDEX support_tickets_opened ON support_tickets (opened_at) WHERE order_id IS NOT NULL;
CREATE INDEX support_tickets_order ON support_tickets (order_id);

CREATE TABLE support_replies (
    ticket_id text NOT NULL REFERENCES support_tickets (id),
    seq       integer NOT NULL CHECK (seq >= 1),
    author    text NOT NULL CHECK (author IN ('agent', 'customer')),
    body      text NOT NULL,
    resolves  boolean NOT NULL DEFAULT false,
    at        timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, seq)
);
