"""The changes feed: the ledger's position events and the availability events derived from
them, in one total order (PostgreSQL), for SSE clients, webhooks and alerts."""
