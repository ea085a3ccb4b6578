"""Deliveries as their endpoint's owner sees them: listing (the dead-letter list is
``state=dead``) and redelivery of one."""

import enum
from datetime import UTC, datetime

import msgspec

from durability.db import Conn


class DeliveryState(enum.StrEnum):
    pending = "pending"  # owed: due at next_attempt_at
    delivered = "delivered"  # a 2xx answered
    dead = "dead"  # given up (attempts, age, or the endpoint answered 410): redeliver by hand


class Delivery(msgspec.Struct, frozen=True):
    id: str  # the webhook-id header: the same on every attempt
    type: str
    sku: str
    change_seq: int | None  # its place in the changes feed; null when published directly
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None  # while pending
    last_attempt_at: datetime | None
    last_status: int | None  # the receiver's HTTP status; null when none came
    last_error: str
    delivered_at: datetime | None
    created_at: datetime
    payload: msgspec.Raw  # the body sent, as sent: {type, timestamp, data}


_COLUMNS = """
SELECT id AS seq, webhook_id, type, sku, change_seq, state, attempts, next_attempt_ms,
    last_attempt_ms, last_status, last_error, delivered_ms, created_at, payload
FROM webhook_deliveries
"""


class _Row(msgspec.Struct, frozen=True):
    seq: int
    webhook_id: str
    type: str
    sku: str
    change_seq: int | None
    state: DeliveryState
    attempts: int
    next_attempt_ms: int
    last_attempt_ms: int | None
    last_status: int | None
    last_error: str
    delivered_ms: int | None
    created_at: datetime
    payload: str


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _delivery(row: _Row) -> Delivery:
    pending = row.state is DeliveryState.pending
    return Delivery(
        id=row.webhook_id,
        type=row.type,
        sku=row.sku,
        change_seq=row.change_seq,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=_at(row.next_attempt_ms) if pending else None,
        last_attempt_at=_at(row.last_attempt_ms),
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=_at(row.delivered_ms),
        created_at=row.created_at,
        payload=msgspec.Raw(row.payload.encode()),
    )


async def list_page(
    conn: Conn, endpoint_id: str, state: DeliveryState | None, limit: int, after: int
) -> tuple[list[Delivery], int | None]:
    """Oldest first, from after the cursor (an internal sequence); the next cursor, if any."""
    rows = await conn.fetch(
        _COLUMNS + " WHERE endpoint_id = $1 AND ($2::text IS NULL OR state = $2) AND id > $3"
        " ORDER BY id LIMIT $4",
        endpoint_id,
        None if state is None else state.value,
        after,
        limit + 1,
    )
    page = [msgspec.convert(dict(r), _Row) for r in rows[:limit]]
    cursor = page[-1].seq if len(rows) > limit else None
    return [_delivery(r) for r in page], cursor


_REDELIVER = """
UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = $3,
    since_ms = $3, lease_until_ms = 0, lease_owner = ''
WHERE endpoint_id = $1 AND webhook_id = $2 AND state <> 'pending'
"""


async def redeliver(conn: Conn, endpoint_id: str, webhook_id: str, now_ms: int) -> Delivery | None:
    """Due now with a fresh attempt budget, under the same webhook-id (a pending one is left
    as it is); None if the endpoint has no such delivery."""
    await conn.execute(_REDELIVER, endpoint_id, webhook_id, now_ms)
    row = await conn.fetchrow(
        _COLUMNS + " WHERE endpoint_id = $1 AND webhook_id = $2", endpoint_id, webhook_id
    )
    return None if row is None else _delivery(msgspec.convert(dict(row), _Row))
