"""The KPIs for a period, location and channel: the SQL gathering each one's inputs, put
together by orders/kpi_formulas.py (where every definition and reading is written).

Where an order is "at" a store: its pickup store, else its first planned shipment's
location (ship-from-store or a DC); an order with neither is in no store's row. A register
sale (orders/register_sales.py) is at its store, on the store channel.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from durability.db import Conn
from orders import kpi_formulas as f
from orders.policies import audit
from orders.prices import mismatches
from orders.register_sale_rules import CHANNEL as REGISTER_CHANNEL
from orders.support import first_contact_resolution

PERIOD_DEFAULT: Final = timedelta(days=7)  # no from/to: the last week
SPAN_MAX: Final = timedelta(days=366)  # a longer period is refused (one year's figures)

# Orders that were never a sale: begun, cancelled before or after, or the hold ran out.
_NOT_SALES = "('pending', 'cancelled', 'expired')"
_STORE = "COALESCE(o.location, o.shipments_plan->0->>'location')"
_ORDERS_IN = f"""
o.order_received_at >= $1 AND o.order_received_at < $2 AND o.state NOT IN {_NOT_SALES}
AND ($3::text IS NULL OR {_STORE} = $3) AND ($4::text IS NULL OR o.channel = $4)
"""
_BOPIS = "o.method IN ('pickup', 'curbside')"
# Register sales (not voided) as purchases: an id no order id can take (':'), the store
# channel (registers sell there only: every oversell is the store channel's), their
# store. The per store and channel figures count the priced ones.
_REGISTER_SALES = "FROM register_sales s WHERE s.kind = 'sale' AND s.voided_at IS NULL"
_REGISTER_ID = "'pos:' || s.device_id || '/' || s.event_id"
_REGISTER_IN = f"""
s.unit_price IS NOT NULL AND s.occurred_at >= $1 AND s.occurred_at < $2
AND ($3::text IS NULL OR s.location = $3) AND ($4::text IS NULL OR $4 = '{REGISTER_CHANNEL}')
"""

_PICKUP = f"""
SELECT count(*) FILTER (WHERE o.ready_at <= o.promised_at) AS on_time,
       count(o.ready_at) AS ready,
       count(*) FILTER (WHERE o.ready_at IS NULL AND o.promised_at < $5) AS late_not_ready
FROM orders o WHERE {_BOPIS} AND o.promised_at IS NOT NULL AND {_ORDERS_IN}
"""
_STAGE = f"""
SELECT o.staged_at - o.order_received_at AS took FROM orders o
WHERE {_BOPIS} AND o.staged_at IS NOT NULL AND {_ORDERS_IN}
  AND (SELECT count(*) = 1 AND sum(l.qty) = 1 FROM order_lines l WHERE l.order_id = o.id)
"""
_REFUNDS = """
SELECT r.refund_initiated_at - r.return_received_at AS took
FROM returns r JOIN orders o ON o.id = r.order_id
WHERE r.refund_initiated_at IS NOT NULL
  AND r.return_received_at >= $1 AND r.return_received_at < $2
  AND ($3::text IS NULL OR r.location = $3) AND ($4::text IS NULL OR o.channel = $4)
"""
# A conversion recorded later than 48 hours after its send is not counted here.
_ALERTS = f"""
SELECT count(DISTINCT s.id) AS sends, count(c.order_id) AS orders
FROM alert_sends s LEFT JOIN alert_conversions c ON c.send_id = s.id
  AND c.ordered_at <= s.sent_at + interval '{f.ALERT_WINDOW_HOURS} hours'
WHERE s.sent_at >= $1 AND s.sent_at < $2
  AND ($3::text IS NULL OR s.location = $3) AND ($4::text IS NULL OR s.channel = $4)
"""
# Each sale's customer (a merged one's survivor), then each customer's first order and the
# one after it; the cohort is those whose first falls in the period (at the store and on the
# channel asked, when asked).
_REPEAT = f"""
WITH sales AS (
    SELECT o.id, o.order_received_at AS at, o.channel, {_STORE} AS store,
           o.customer_id, o.customer_email, o.customer_phone
    FROM orders o WHERE o.state NOT IN {_NOT_SALES}
    UNION ALL
    SELECT {_REGISTER_ID}, s.occurred_at, '{REGISTER_CHANNEL}', s.location,
           s.customer_id, s.customer_email, s.customer_phone
    {_REGISTER_SALES}
), bought AS (
    SELECT DISTINCT ON (o.id) o.id, o.at, o.channel, o.store,
           COALESCE(c.merged_into, c.id) AS customer
    FROM sales o
    JOIN customer_identities i ON (i.kind = 'id' AND i.value = o.customer_id)
        OR (i.kind = 'email' AND i.value = o.customer_email)
        OR (i.kind = 'phone' AND i.value = o.customer_phone)
    JOIN customers c ON c.id = i.customer_id
    ORDER BY o.id, customer
), ranked AS (
    SELECT at, channel, store, row_number() OVER w AS n, lead(at) OVER w AS next_at
    FROM bought WINDOW w AS (PARTITION BY customer ORDER BY at, id)
)
SELECT at, next_at FROM ranked
WHERE n = 1 AND at >= $1 AND at < $2
  AND ($3::text IS NULL OR store = $3) AND ($4::text IS NULL OR channel = $4)
"""
_BREAKDOWN = f"""
WITH placed AS (
    SELECT o.id, o.channel, {_STORE} AS store, o.state,
           (SELECT count(DISTINCT s->>'location')
            FROM jsonb_array_elements(o.shipments_plan) s) AS places,
           (SELECT sum(l.qty * l.unit_price) FROM order_lines l WHERE l.order_id = o.id)
               AS revenue,
           (SELECT sum(l.returned) FROM order_lines l WHERE l.order_id = o.id) AS returned,
           (SELECT sum(l.delivered) FROM order_lines l WHERE l.order_id = o.id) AS delivered
    FROM orders o WHERE {_ORDERS_IN}
    UNION ALL
    SELECT {_REGISTER_ID}, '{REGISTER_CHANNEL}', s.location, 'sold', 1, s.qty * s.unit_price,
           NULL, NULL
    {_REGISTER_SALES} AND {_REGISTER_IN}
)
SELECT {{key}} AS key, count(*) AS orders, COALESCE(sum(revenue), 0) AS revenue,
       COALESCE(sum(returned), 0) AS returned, COALESCE(sum(delivered), 0) AS delivered,
       count(*) FILTER (WHERE state IN ('partially_shipped', 'shipped')) AS shipped,
       count(*) FILTER (WHERE state IN ('partially_shipped', 'shipped') AND places > 1)
           AS split
FROM placed WHERE {{key}} IS NOT NULL GROUP BY {{key}} ORDER BY {{key}}
"""
# A register sale oversold when the position's oversold units rose with it; the previous
# value may be older than the period, so the window runs over the position's whole history
# (the partial index holds only the rare events that carry it).
_OVERSELLS = """
SELECT location, count(*) AS oversells FROM (
    SELECT location, ts_ms, oversold,
           lag(oversold) OVER (PARTITION BY sku, location ORDER BY stream_ms, stream_seq)
               AS before
    FROM ledger_events WHERE oversold IS NOT NULL AND ($3::text IS NULL OR location = $3)
) e
WHERE oversold > COALESCE(before, 0) AND ts_ms >= $1 AND ts_ms < $2
GROUP BY location
"""


class Kpis(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime = msgspec.field(name="from")
    until: datetime = msgspec.field(name="to")
    location: str | None
    channel: str | None
    kpis: list[f.Figure]
    by_store: list[f.Breakdown]
    by_channel: list[f.Breakdown]


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


async def _oversells(
    conn: Conn, since: datetime, until: datetime, location: str | None
) -> dict[str, int]:
    rows = await conn.fetch(_OVERSELLS, _ms(since), _ms(until), location)
    return {r["location"]: int(r["oversells"]) for r in rows}


async def _breakdown(
    conn: Conn,
    key: str,
    args: tuple[datetime, datetime, str | None, str | None],
    oversells: dict[str, int],
) -> list[f.Breakdown]:
    rows = await conn.fetch(_BREAKDOWN.format(key=key), *args)
    found: list[f.Breakdown] = []
    for r in rows:
        extra = {"location": r["key"]} if key == "store" else {"channel": r["key"]}
        found.append(
            f.breakdown(
                **extra,
                orders=int(r["orders"]),
                revenue=Decimal(r["revenue"]),
                returned=int(r["returned"]),
                delivered=int(r["delivered"]),
                oversells=oversells.get(r["key"], 0),
                split=int(r["split"]),
                shipped=int(r["shipped"]),
            )
        )
    # A store (the store channel) whose registers oversold in a period without orders.
    seen = {r["key"] for r in rows}
    for where, count in oversells.items():
        if where not in seen and count:
            extra = {"location": where} if key == "store" else {"channel": where}
            zero = Decimal(0)
            found.append(
                f.breakdown(
                    **extra,
                    orders=0,
                    revenue=zero,
                    returned=0,
                    delivered=0,
                    oversells=count,
                    split=0,
                    shipped=0,
                )
            )
    return sorted(found, key=lambda b: b.location or b.channel or "")


async def gather(
    conn: Conn,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    location: str | None = None,
    channel: str | None = None,
) -> Kpis:
    """Every KPI over orders received (returns received, alerts sent) in ``[since, until)``,
    at ``location`` and on ``channel`` when given. ``now`` judges the pickups not yet ready."""
    args = (since, until, location, channel)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        pickup = await conn.fetchrow(_PICKUP, *args, now)
        assert pickup is not None
        stages = [r["took"] for r in await conn.fetch(_STAGE, *args)]
        refunds = [r["took"] for r in await conn.fetch(_REFUNDS, *args)]
        alerts = await conn.fetchrow(_ALERTS, *args)
        assert alerts is not None
        surfaces = (await audit(conn)).defects
        prices = await mismatches(
            conn, since=since, until=until, location=location, channel=channel
        )
        cohort = [(r["at"], r["next_at"]) for r in await conn.fetch(_REPEAT, *args)]
        first_contact = await first_contact_resolution(
            conn, since=since, until=until, location=location, channel=channel
        )
        oversells = (
            await _oversells(conn, since, until, location)
            if channel in (None, REGISTER_CHANNEL)
            else {}
        )
        by_store = await _breakdown(conn, "store", args, oversells)
        registers = sum(oversells.values())
        by_channel = await _breakdown(conn, "channel", args, {REGISTER_CHANNEL: registers})
    kpis = [
        f.pickup_on_time(pickup["on_time"], pickup["ready"], pickup["late_not_ready"]),
        f.median_minutes(f.STAGE_TIME, stages),
        f.median_minutes(f.REFUND_LATENCY, refunds),
        f.first_contact_resolution(first_contact),
        f.share(f.BACK_IN_STOCK, int(alerts["orders"]), int(alerts["sends"])),
        f.policy_defects(surfaces, prices),
        f.share(f.REPEAT_PURCHASE, f.returning(cohort), len(cohort)),
    ]
    return Kpis(
        since=since,
        until=until,
        location=location,
        channel=channel,
        kpis=kpis,
        by_store=by_store,
        by_channel=by_channel,
    )
