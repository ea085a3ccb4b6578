"""From the changes feed to deliveries: one bounded batch per transaction.

The consumer row ``webhooks`` in change_consumers is locked (``FOR UPDATE``), the changes
after its seq are read in order, the deliveries owed to every matching endpoint inserted,
and the seq moved, all in one transaction: two processes never fan out the same range, a
process killed midway leaves nothing half done, and no change is skipped.
"""

from collections.abc import Callable

import asyncpg
import msgspec

from durability.db import Conn
from webhooks import outbox, payload
from webhooks.endpoints import CONSUMER
from webhooks.limits import FANOUT_BATCH_MAX
from webhooks.matching import Subject

_LOCK = "SELECT seq FROM change_consumers WHERE name = $1 FOR UPDATE"
_START = """
INSERT INTO change_consumers (name, seq)
SELECT $1, COALESCE(max(seq), 0) FROM changes
ON CONFLICT DO NOTHING
"""
_CHANGES = """
SELECT seq, type, sku, location, location_group, data, ts_ms FROM changes
WHERE seq > $1 ORDER BY seq LIMIT $2
"""
_MOVE = "UPDATE change_consumers SET seq = $2, updated_at = now() WHERE name = $1"


class Change(msgspec.Struct, frozen=True):
    seq: int
    type: str
    sku: str
    location: str
    location_group: str
    data: str
    ts_ms: int


async def _owed_rows(conn: Conn, changes: list[Change], now_ms: int) -> list[outbox.DeliveryRow]:
    subs = await outbox.subscriptions(conn)
    members = await outbox.group_members(conn, subs)
    rows: list[outbox.DeliveryRow] = []
    for change in changes:
        subject = Subject(change.type, change.sku, change.location, change.location_group)
        newer = [s for s in subs if s.start_seq < change.seq]
        endpoints = outbox.owed(newer, subject, members)
        if endpoints:
            text = payload.body(change.type, change.ts_ms, change.data)
            webhook_id = payload.feed_webhook_id(change.seq)
            common = (change.type, change.sku, change.seq, text, now_ms)
            rows += [(e, webhook_id, *common) for e in endpoints]
    return rows


class Batch(msgspec.Struct, frozen=True):
    changes: int  # read from the feed (FANOUT_BATCH_MAX: there may be more)
    deliveries: int  # recorded


async def fan_out(pool: asyncpg.Pool, now_ms: Callable[[], int]) -> Batch:
    """One batch of changes after the consumer's seq."""
    async with pool.acquire() as conn, conn.transaction():
        seq = await conn.fetchval(_LOCK, CONSUMER)
        if seq is None:  # no endpoint was ever registered: start at the head, no history
            await conn.execute(_START, CONSUMER)
            return Batch(0, 0)
        records = await conn.fetch(_CHANGES, seq, FANOUT_BATCH_MAX)
        if not records:
            return Batch(0, 0)
        changes = [msgspec.convert(dict(r), Change) for r in records]
        rows = await _owed_rows(conn, changes, now_ms())
        await outbox.insert(conn, rows)
        await conn.execute(_MOVE, CONSUMER, changes[-1].seq)
        return Batch(len(changes), len(rows))
