"""The deliverer's side of the deliveries table: claiming due ones under a lease and
recording each attempt's outcome.

A claim takes only the oldest pending delivery of each endpoint and SKU (the next one
waits until it is delivered or dead: per-SKU order), skips rows another process is
claiming (``FOR UPDATE SKIP LOCKED``) and stamps a lease; a process killed mid-attempt
leaves its claims to whoever looks after the lease's deadline.
"""

import asyncpg
import msgspec

_CLAIM = """
WITH due AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.state = 'pending' AND d.next_attempt_ms <= $1 AND d.lease_until_ms <= $1
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries older
          WHERE older.endpoint_id = d.endpoint_id AND older.sku = d.sku
            AND older.state = 'pending' AND older.id < d.id
      )
    ORDER BY d.next_attempt_ms, d.id
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET lease_until_ms = $1 + $3, lease_owner = $4
FROM due, webhook_endpoints e
WHERE d.id = due.id AND e.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, d.webhook_id, d.payload, d.attempts, d.since_ms, e.url, e.secret
"""


class Claimed(msgspec.Struct, frozen=True):
    id: int
    endpoint_id: str
    webhook_id: str
    payload: str
    attempts: int  # made before this one
    since_ms: int
    url: str
    secret: str


async def claim(
    pool: asyncpg.Pool, owner: str, now_ms: int, limit: int, lease_ms: int
) -> list[Claimed]:
    rows = await pool.fetch(_CLAIM, now_ms, limit, lease_ms, owner)
    return sorted((msgspec.convert(dict(r), Claimed) for r in rows), key=lambda c: c.id)


class Outcome(msgspec.Struct, frozen=True):
    """What one attempt came to, as the deliverer decided (webhooks/deliverer.py)."""

    claimed: Claimed
    kind: str  # "delivered" | "failed" | "gone" (a 410)
    status: int | None
    error: str
    at_ms: int
    next_attempt_ms: int | None = None  # a failure's next try; None: dead


# Each outcome updates only a delivery this owner still holds: one whose lease ran out
# and was claimed again is the new holder's to record.
_DELIVERED = """
UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1,
    last_status = $3, last_error = '', last_attempt_ms = $4, delivered_ms = $4,
    lease_until_ms = 0, lease_owner = ''
WHERE id = $1 AND lease_owner = $2 AND state = 'pending'
"""
_FAILED = """
UPDATE webhook_deliveries SET state = $3, attempts = attempts + 1, last_status = $4,
    last_error = $5, last_attempt_ms = $6, next_attempt_ms = $7,
    lease_until_ms = 0, lease_owner = ''
WHERE id = $1 AND lease_owner = $2 AND state = 'pending'
"""
_DISABLE = """
UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2 WHERE id = $1
"""
_STOP_PENDING = """
UPDATE webhook_deliveries SET state = 'dead', last_error = $2,
    lease_until_ms = 0, lease_owner = ''
WHERE endpoint_id = $1 AND state = 'pending'
"""
GONE = "the receiver answered 410 Gone: endpoint disabled"


def _failed_row(owner: str, o: Outcome) -> tuple[object, ...]:
    state = "dead" if o.next_attempt_ms is None else "pending"
    due = o.at_ms if o.next_attempt_ms is None else o.next_attempt_ms
    return (o.claimed.id, owner, state, o.status, o.error, o.at_ms, due)


async def record(pool: asyncpg.Pool, owner: str, outcomes: list[Outcome]) -> None:
    """Every outcome in one transaction: one commit for a whole batch of attempts.

    A 410 disables its endpoint and makes its pending deliveries dead (a retry after the
    receiver is back needs a new registration); nothing more is fanned out to it."""
    done = [o for o in outcomes if o.kind == "delivered"]
    failed = [_failed_row(owner, o) for o in outcomes if o.kind != "delivered"]
    async with pool.acquire() as conn, conn.transaction():
        if done:
            # By primary key, row by row in one round trip (executemany): a join with an
            # array was planned, on fresh statistics, as a scan of every pending row.
            rows = [(o.claimed.id, owner, o.status, o.at_ms) for o in done]
            await conn.executemany(_DELIVERED, rows)
        if failed:
            await conn.executemany(_FAILED, failed)
        for gone in (o for o in outcomes if o.kind == "gone"):
            await conn.execute(_DISABLE, gone.claimed.endpoint_id, GONE)
            await conn.execute(
                _STOP_PENDING, gone.claimed.endpoint_id, "endpoint disabled (410 Gone)"
            )
