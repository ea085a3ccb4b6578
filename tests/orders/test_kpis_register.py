"""Register sales in the KPIs (orders/kpis.py) on hand-made rows: priced sales count as
sales and revenue on the store channel at their store; unpriced, voided, returned and
out-of-period ones do not; a register sale with a customer is a purchase in the repeat
purchase rate, joined with that customer's orders."""

import datetime as dt
from typing import Any

import asyncpg

from orders import kpis
from orders.kpi_formulas import Figure

P0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)  # the period [P0, P1)
P1 = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
T = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


async def _sale(
    pool: asyncpg.Pool,
    event_id: str,
    at: dt.datetime,
    *,
    price: str | None = "10.00",
    qty: int = 1,
    location: str = "S1",
    kind: str = "sale",
    email: str | None = None,
    voided: bool = False,
) -> None:
    await pool.execute(
        "INSERT INTO register_sales (device_id, event_id, kind, location, sku, qty,"
        " unit_price, customer_email, digest, occurred_at, voided_at)"
        " VALUES ('till-1', $1, $2, $3, 'A', $4, $5::numeric, $6, 'd', $7, $8)",
        event_id,
        kind,
        location,
        qty,
        price,
        email,
        at,
        at if voided else None,
    )


async def _order(pool: asyncpg.Pool, order_id: str, at: dt.datetime, email: str) -> None:
    """An online order shipped from DC at 20.00."""
    await pool.execute(
        "INSERT INTO orders (id, channel, method, reservation_id, digest, state,"
        " order_received_at, shipments_plan, customer_email) VALUES ($1, 'online', 'ship',"
        " 'r-' || $1, 'd', 'confirmed', $2, '[{\"location\": \"DC\", \"lines\": []}]', $3)",
        order_id,
        at,
        email,
    )
    await pool.execute(
        "INSERT INTO order_lines (order_id, line_no, sku, qty, unit_price)"
        " VALUES ($1, 0, 'A', 1, 20.00)",
        order_id,
    )


async def _customer(pool: asyncpg.Pool, customer: str, email: str) -> None:
    await pool.execute("INSERT INTO customers (id) VALUES ($1)", customer)
    await pool.execute(
        "INSERT INTO customer_identities (kind, value, customer_id) VALUES ('email', $1, $2)",
        email,
        customer,
    )


async def _world(pool: asyncpg.Pool) -> None:
    await _customer(pool, "c1", "a@x.no")
    await _customer(pool, "c2", "b@x.no")
    await _customer(pool, "c3", "c@x.no")
    # c1: first at a register in the period, back online 10 days later: returning.
    await _sale(pool, "e1", T, qty=2, price="15.50", email="a@x.no")
    await _order(pool, "w1", T + 10 * DAY, "a@x.no")
    # c2: online first, then at a register: returning, first on the online channel.
    await _order(pool, "w2", T, "b@x.no")
    await _sale(pool, "e2", T + DAY, location="S2", email="b@x.no")
    # c3: one register sale, voided: no purchase at all.
    await _sale(pool, "e3", T, email="c@x.no", voided=True)
    await _sale(pool, "e4", T + DAY, price=None)  # no price: not in sales or revenue
    await _sale(pool, "e5", T + DAY, price=None, kind="return", email="a@x.no")
    await _sale(pool, "e6", P1 + DAY, location="S2")  # after the period


async def _gather(pool: asyncpg.Pool, **filters: Any) -> kpis.Kpis:
    async with pool.acquire() as conn:
        return await kpis.gather(conn, since=P0, until=P1, now=P1, **filters)


def _repeat(found: kpis.Kpis) -> Figure:
    return next(k for k in found.kpis if k.name == "repeat_purchase_rate")


async def test_priced_register_sales_count_on_the_store_channel(db: asyncpg.Pool) -> None:
    await _world(db)
    found = await _gather(db)
    stores = {b.location: (b.orders, b.revenue) for b in found.by_store}
    assert stores == {"S1": (1, "31.00"), "S2": (1, "10.00"), "DC": (1, "20.00")}
    channels = {b.channel: (b.orders, b.revenue) for b in found.by_channel}
    assert channels == {"store": (2, "41.00"), "online": (1, "20.00")}
    s1 = next(b for b in found.by_store if b.location == "S1")
    assert s1.returns_rate is None and s1.split_shipment_rate is None  # orders' figures
    at_s2 = await _gather(db, location="S2", channel="store")
    assert [(b.location, b.orders) for b in at_s2.by_store] == [("S2", 1)]
    online = await _gather(db, channel="online")
    assert {b.channel for b in online.by_channel} == {"online"}


async def test_register_sales_with_a_customer_are_purchases(db: asyncpg.Pool) -> None:
    await _world(db)
    repeat = _repeat(await _gather(db))
    # c1 (register first, back online within the window) and c2 (online first, then at a
    # register); c3's only sale was voided.
    assert (repeat.numerator, repeat.denominator) == (2, 2)
    store = _repeat(await _gather(db, channel="store"))
    assert (store.numerator, store.denominator) == (1, 1)  # c1 first bought at a register
    at_s1 = _repeat(await _gather(db, location="S1"))
    assert (at_s1.numerator, at_s1.denominator) == (1, 1)
    at_s2 = _repeat(await _gather(db, location="S2"))
    assert (at_s2.numerator, at_s2.denominator) == (0, 0)  # c2's first was online, at DC
