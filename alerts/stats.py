"""Opens reported by the messaging tool, and the figures of ``GET /v1/alerts/stats``: the
back-in-stock conversion KPI is orders_from_alerts_48h / alert_sends (docs: commerce)."""

from datetime import datetime

import msgspec

from durability.db import Conn

_OPENED = """
UPDATE alert_sends SET opened_at = COALESCE(opened_at, $2), resend_due_at = NULL
WHERE id = $1 RETURNING id, opened_at
"""
_SENDS = """
SELECT count(*) AS sends, count(opened_at) AS opens, count(resent_at) AS resends
FROM alert_sends WHERE $1::text IS NULL OR sku = $1
"""
_CONVERSIONS = """
SELECT count(*) FROM alert_conversions c JOIN alert_sends s ON s.id = c.send_id
WHERE $1::text IS NULL OR s.sku = $1
"""
_WAITING = """
SELECT count(*) FROM alert_subscriptions WHERE state = 'waiting' AND ($1::text IS NULL OR sku = $1)
"""


class Opened(msgspec.Struct, frozen=True):
    send_id: str
    opened_at: datetime  # the first open (a later report keeps it)


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    sku: str | None  # the SKU asked, or null: every SKU
    subscriptions_waiting: int
    sends: int  # alert sends (each subscriber told once per restock; resends not counted)
    opens: int
    resends: int
    orders_from_alerts_48h: int
    conversion_rate: float  # orders_from_alerts_48h / sends (0 with no sends)
    open_rate: float  # opens / sends


async def opened(conn: Conn, send_id: str, at: datetime) -> Opened | None:
    """Records a send's first open (no resend then); None: no such send."""
    row = await conn.fetchrow(_OPENED, send_id, at)
    return None if row is None else Opened(row["id"], row["opened_at"])


async def stats(conn: Conn, sku: str | None = None) -> Stats:
    sends = await conn.fetchrow(_SENDS, sku)
    assert sends is not None
    orders = int(await conn.fetchval(_CONVERSIONS, sku))
    waiting = int(await conn.fetchval(_WAITING, sku))
    n = int(sends["sends"])
    return Stats(
        sku=sku,
        subscriptions_waiting=waiting,
        sends=n,
        opens=int(sends["opens"]),
        resends=int(sends["resends"]),
        orders_from_alerts_48h=orders,
        conversion_rate=orders / n if n else 0.0,
        open_rate=int(sends["opens"]) / n if n else 0.0,
    )
