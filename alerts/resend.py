"""One resend to those who did not open, once the delay has passed (``resend_due_at``, set
when the send was recorded; an open or an unsubscribe clears it). Only while the scope
still has units now: a resend about stock that is gone again is skipped, never sent late.
The resend carries the send's own id and window, ``resend: true``, and the availability of
the moment."""

from datetime import datetime

import asyncpg

from alerts import payload
from alerts.limits import RESENDS_PER_PASS_MAX
from alerts.rules import LocationStock, Window, units_now
from alerts.scope_stock import scope_stock
from alerts.send import Scope, publish_event, subscriber
from atp.availability import Availability
from atp.model import Channel
from durability.db import Conn

_DUE = """
SELECT s.id, s.sku, s.location, s.location_group, s.channel, s.window_kind,
       s.window_location, s.window_day, s.contact_kind, s.contact, s.subscription_id,
       u.unsubscribe_token, t.data
FROM alert_sends s
JOIN alert_subscriptions u ON u.id = s.subscription_id
JOIN alert_triggers t ON t.id = s.trigger_id
WHERE s.resend_due_at <= $1 AND s.opened_at IS NULL
ORDER BY s.resend_due_at LIMIT $2
FOR UPDATE OF s SKIP LOCKED
"""
_RESENT = "UPDATE alert_sends SET resend_due_at = NULL, resent_at = $2 WHERE id = $1"
_SKIPPED = (
    "UPDATE alert_sends SET resend_due_at = NULL, resend_skipped = 'unavailable' WHERE id = $1"
)


async def _resend_one(
    conn: Conn, row: asyncpg.Record, stock: list[LocationStock], now: datetime
) -> None:
    scope: Scope = (row["sku"], row["location"], row["location_group"], row["channel"])
    names = {s.location: s.name for s in stock}
    place = row["window_location"]
    win = Window(row["window_kind"], place, names.get(place, place), row["window_day"], 0)
    who = (row["subscription_id"], row["contact_kind"], row["contact"], row["unsubscribe_token"])
    data = payload.event(
        send_id=row["id"],
        subscription=subscriber(*who),
        scope=scope,
        stock=stock,
        win=payload.window(win),
        restock=payload.trigger(row["data"]),
        sent_at=now,
        resend=True,
    )
    await publish_event(conn, data, scope)
    await conn.execute(_RESENT, row["id"], now)


async def resend_pass(conn: Conn, availability: Availability, now: datetime) -> int:
    """One bounded pass; returns the resends published."""
    resent = 0
    async with conn.transaction():
        rows = await conn.fetch(_DUE, now, RESENDS_PER_PASS_MAX)
        stocks: dict[Scope, list[LocationStock]] = {}
        for row in rows:
            scope: Scope = (row["sku"], row["location"], row["location_group"], row["channel"])
            if scope not in stocks:  # read once per scope per pass
                sku, location, group, channel = scope
                stocks[scope] = await scope_stock(
                    availability, conn, sku, location, group, Channel(channel)
                )
            if units_now(stocks[scope]) == 0:
                await conn.execute(_SKIPPED, row["id"])
                continue
            await _resend_one(conn, row, stocks[scope], now)
            resent += 1
    return resent
