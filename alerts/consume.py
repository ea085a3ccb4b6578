"""The alerts' reader of the changes feed (migrations/0008_changes.sql): in one
transaction, with its ``change_consumers`` row locked (two API processes never take the same
range), it reads a bounded batch of changes after its seq, records a trigger for each
``back_in_stock`` of a scope someone waits for, and moves its seq past the batch.

A new deployment (no row yet) starts from the feed's head: restocks from before alerts
existed notify nobody.
"""

from alerts.limits import CHANGES_PER_PASS_MAX
from durability.db import Conn

CONSUMER = "alerts"
BACK_IN_STOCK = "back_in_stock"  # changes/derive.py's derived type

_START_AT_HEAD = """
INSERT INTO change_consumers (name, seq)
SELECT $1, COALESCE(max(seq), 0) FROM changes
ON CONFLICT (name) DO NOTHING
"""
_LOCK = "SELECT seq FROM change_consumers WHERE name = $1 FOR UPDATE"
_BATCH_END = """
SELECT max(seq) FROM (SELECT seq FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2) batch
"""
# Only scopes with someone waiting: most restocks concern nobody and cost no row.
_RECORD = """
INSERT INTO alert_triggers (change_seq, sku, location, location_group, channel, event_id, data)
SELECT c.seq, c.sku, c.location, c.location_group, c.channel, c.event_id, c.data
FROM changes c
WHERE c.seq > $1 AND c.seq <= $2 AND c.type = $3
  AND EXISTS (
    SELECT 1 FROM alert_subscriptions s
    WHERE s.state = 'waiting' AND s.sku = c.sku AND s.location = c.location
      AND s.location_group = c.location_group AND s.channel = c.channel
  )
ORDER BY c.seq
ON CONFLICT (change_seq) DO NOTHING
"""
_MOVE = "UPDATE change_consumers SET seq = $2, updated_at = now() WHERE name = $1"


async def start(conn: Conn) -> None:
    """The consumer's row, at the feed's head if it has none yet."""
    await conn.execute(_START_AT_HEAD, CONSUMER)


async def consume(conn: Conn, batch_max: int = CHANGES_PER_PASS_MAX) -> int:
    """One bounded batch; returns how many triggers it recorded."""
    async with conn.transaction():
        after = await conn.fetchval(_LOCK, CONSUMER)
        if after is None:  # the first pass ever: from the head
            await start(conn)
            after = await conn.fetchval(_LOCK, CONSUMER)
        end = await conn.fetchval(_BATCH_END, after, batch_max)
        if end is None:
            return 0
        status = await conn.execute(_RECORD, after, end, BACK_IN_STOCK)
        await conn.execute(_MOVE, CONSUMER, end)
    return int(status.split()[-1])
