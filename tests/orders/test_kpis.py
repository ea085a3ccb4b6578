"""The KPIs on hand-made data (orders/kpis.py, api/routes_kpis.py): orders, returns, alert
sends, customers and journal events inserted with SQL at known times, each KPI and each
per store and channel figure checked exactly; filters by location and channel; the route's
period rules and its lane."""

import datetime as dt
import json
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from api.kpi_gauges import KpiGauges
from atp.clock import ManualClock, instant
from orders import kpis, prices
from orders.policies import audit
from orders.price_rules import check
from support.harness import Api, assert_problem, field_of

P0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)  # the period [P0, P1)
P1 = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
T = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
Line = tuple[int, str, int, int]  # qty, unit price, delivered, returned


async def _order(
    pool: asyncpg.Pool,
    order_id: str,
    received: dt.datetime,
    *,
    method: str = "pickup",
    location: str | None = "S1",
    channel: str = "online",
    state: str = "picked_up",
    promised: dt.datetime | None = None,
    staged: dt.datetime | None = None,
    ready: dt.datetime | None = None,
    lines: list[Line] | None = None,
    plan: list[str] | None = None,
    email: str | None = None,
    customer: str | None = None,
) -> None:
    shipments = [{"location": where, "lines": [{"sku": "A", "qty": 1}]} for where in plan or []]
    await pool.execute(
        "INSERT INTO orders (id, channel, method, location, reservation_id, digest, state,"
        " order_received_at, promised_at, staged_at, ready_at, shipments_plan, customer_email,"
        " customer_id) VALUES ($1, $2, $3, $4, 'r-' || $1, 'd', $5, $6, $7, $8, $9,"
        " $10::jsonb, $11, $12)",
        order_id,
        channel,
        method,
        location,
        state,
        received,
        promised,
        staged,
        ready,
        json.dumps(shipments),
        email,
        customer,
    )
    for n, (qty, price, delivered, returned) in enumerate(lines or [(1, "10.00", 0, 0)]):
        await pool.execute(
            "INSERT INTO order_lines (order_id, line_no, sku, qty, unit_price, delivered,"
            " returned) VALUES ($1, $2, 'A', $3, $4::numeric, $5, $6)",
            order_id,
            n,
            qty,
            price,
            delivered,
            returned,
        )


async def _return(
    pool: asyncpg.Pool,
    return_id: str,
    order_id: str,
    location: str,
    received: dt.datetime,
    refunded: dt.datetime | None,
) -> None:
    await pool.execute(
        "INSERT INTO returns (id, order_id, location, lines, digest, policy_name,"
        " policy_version, state, return_received_at, refund_initiated_at)"
        " VALUES ($1, $2, $3, '[]', 'd', 'returns', 1, $4, $5, $6)",
        return_id,
        order_id,
        location,
        "received" if refunded is None else "refund_initiated",
        received,
        refunded,
    )


async def _send(
    pool: asyncpg.Pool, send_id: str, location: str, channel: str, sent: dt.datetime
) -> None:
    await pool.execute(
        "INSERT INTO alert_subscriptions (id, contact_kind, contact, sku, location, channel,"
        " consent_at, consent_source, unsubscribe_token, state, created_at)"
        " VALUES ($1, 'email', $1 || '@example.no', 'A', $2, $3, $4, 'web', 'tok-' || $1,"
        " 'notified', $4)",
        send_id,
        location,
        channel,
        sent,
    )
    trigger = await pool.fetchval(
        "INSERT INTO alert_triggers (change_seq, sku, location, channel, data)"
        " VALUES ((SELECT COALESCE(max(change_seq), 0) + 1 FROM alert_triggers), 'A', $1, $2,"
        " '{}') RETURNING id",
        location,
        channel,
    )
    await pool.execute(
        "INSERT INTO alert_sends (id, subscription_id, trigger_id, contact_kind, contact, sku,"
        " location, channel, window_kind, window_location, window_day, window_text, sent_at)"
        " VALUES ($1, $1, $2, 'email', $1 || '@example.no', 'A', $3, $4, 'now', $3, $5,"
        " 'now', $6)",
        send_id,
        trigger,
        location,
        channel,
        sent.date(),
        sent,
    )


async def _converted(pool: asyncpg.Pool, order_id: str, send_id: str, at: dt.datetime) -> None:
    await pool.execute(
        "INSERT INTO alert_conversions (order_id, send_id, how, ordered_at)"
        " VALUES ($1, $2, 'named', $3)",
        order_id,
        send_id,
        at,
    )


async def _journal(
    pool: asyncpg.Pool, seq: int, sku: str, location: str, at: dt.datetime, oversold: int
) -> None:
    ms = int(at.timestamp() * 1000)
    await pool.execute(
        "INSERT INTO ledger_events (partition, stream_ms, stream_seq, type, sku, location,"
        " d_on_hand, d_reserved, d_safety, d_incoming, on_hand, reserved, safety, incoming,"
        " atp_before, atp_after, reason, reservation_id, op_id, ts_ms, oversold)"
        " VALUES (0, $1, $2, 'pos_sale', $3, $4, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, '', '', '',"
        " $1, $5)",
        ms,
        seq,
        sku,
        location,
        oversold,
    )


async def _customer(pool: asyncpg.Pool, customer: str, kind: str, value: str) -> None:
    await pool.execute("INSERT INTO customers (id) VALUES ($1)", customer)
    await pool.execute(
        "INSERT INTO customer_identities (kind, value, customer_id) VALUES ($1, $2, $3)",
        kind,
        value,
        customer,
    )


async def _world(pool: asyncpg.Pool) -> None:
    """The hand-made data; each figure it gives is worked out in the tests below."""
    promise = T + 2 * HOUR
    # BOPIS at S1 (online): on time, late, not ready past its promise, not ready before it.
    await _order(
        pool, "p1", T, promised=promise, staged=T + 4 * MIN, ready=T + HOUR,
        lines=[(1, "10.00", 1, 0)], email="a@x.no",
    )  # fmt: skip
    await _order(
        pool, "p2", T + MIN, promised=promise, staged=T + 11 * MIN, ready=T + 3 * HOUR,
        lines=[(1, "10.00", 1, 0)], email="b@x.no",
    )  # fmt: skip
    await _order(pool, "p3", T + 2 * MIN, state="confirmed", promised=promise, email="c@x.no")
    await _order(pool, "p4", P1 - HOUR, state="confirmed", promised=NOW + DAY)
    await _order(pool, "p5", T, state="cancelled", promised=promise, ready=T, email="e@x.no")
    # Curbside at S2 on the store channel: two units (not single-item), on time.
    await _order(
        pool, "p6", T + 3 * MIN, method="curbside", location="S2", channel="store",
        promised=promise, staged=T + 6 * MIN, ready=T + HOUR, lines=[(2, "10.00", 2, 0)],
        email="d@x.no",
    )  # fmt: skip
    await _order(pool, "p7", P0 - DAY, promised=P0, ready=P0, email="c@x.no")  # before
    await _order(pool, "q1", T + 3 * MIN + 70 * DAY, email="d@x.no")  # after, too late
    # Two lines: not single-item; no promise: not in pickup on-time.
    await _order(
        pool, "p8", T + 4 * MIN, state="staged", staged=T + 5 * MIN,
        lines=[(1, "10.00", 0, 0), (1, "10.00", 0, 0)],
    )  # fmt: skip
    # Shipped: s1 split (S1 and DC), s2 from S1 twice (one place), s3 not shipped yet.
    await _order(
        pool, "s1", T + DAY, method="ship", location=None, state="shipped",
        plan=["S1", "DC"], lines=[(2, "10.00", 2, 1)], email="a@x.no",
    )  # fmt: skip
    await _order(
        pool, "s2", T + 5 * MIN, method="ship", location=None, state="shipped",
        plan=["S1", "S1"], lines=[(1, "5.50", 1, 0)], customer="cust-5",
    )  # fmt: skip
    await _order(
        pool, "s3", T + 2 * DAY, method="ship", location=None, state="confirmed", plan=["DC"],
        customer="cust-5",
    )  # fmt: skip
    for customer, kind, value in [
        ("c1", "email", "a@x.no"),
        ("c2", "email", "b@x.no"),
        ("c3", "email", "c@x.no"),
        ("c4", "email", "d@x.no"),
        ("c5", "id", "cust-5"),
        ("c6", "email", "e@x.no"),
    ]:
        await _customer(pool, customer, kind, value)
    # Returns: refunded after 30, 90 and 600 minutes; one not refunded; one before.
    await _return(pool, "r1", "s1", "S1", T, T + 30 * MIN)
    await _return(pool, "r2", "p1", "S1", T, T + 90 * MIN)
    await _return(pool, "r3", "p6", "S2", T, T + 600 * MIN)
    await _return(pool, "r4", "p2", "S1", T, None)
    await _return(pool, "r5", "p7", "S1", P0 - HOUR, P0)
    # Alert sends: a1 converts once within 48 h (its second order is too late), a3 once.
    await _send(pool, "a1", "S1", "online", T)
    await _send(pool, "a2", "S1", "online", T)
    await _send(pool, "a3", "S2", "store", T)
    await _send(pool, "a4", "S1", "online", P0 - DAY)
    await _converted(pool, "x1", "a1", T + HOUR)
    await _converted(pool, "x2", "a1", T + 50 * HOUR)
    await _converted(pool, "x3", "a3", T + 47 * HOUR)
    await _converted(pool, "x4", "a4", P0 - DAY + HOUR)
    # Register oversells: at S1 a rise before the period, two rises within (around a void),
    # one after; at S2 one rise.
    await _journal(pool, 1, "A", "S1", P0 - DAY, 1)
    await _journal(pool, 2, "A", "S1", T, 3)
    await _journal(pool, 3, "A", "S1", T + HOUR, 0)
    await _journal(pool, 4, "A", "S1", T + 2 * HOUR, 2)
    await _journal(pool, 5, "A", "S2", T, 1)
    await _journal(pool, 6, "B", "S1", P1, 5)
    # One sale at another price than the one in force, at S1 online.
    async with pool.acquire() as conn:
        await prices.save(conn, "A", check("199.00", "NOK"), "tests", instant(ManualClock()))
    await pool.execute(
        "INSERT INTO price_mismatches (sale_ref, sku, channel, location, sold_price,"
        " sold_currency, price, currency, price_version, at)"
        " VALUES ('p1', 'A', 'online', 'S1', 150, 'NOK', 199, 'NOK', 1, $1)",
        T,
    )


async def _gather(pool: asyncpg.Pool, **filters: Any) -> kpis.Kpis:
    async with pool.acquire() as conn:
        return await kpis.gather(conn, since=P0, until=P1, now=NOW, **filters)


def _figures(found: kpis.Kpis) -> dict[str, Any]:
    return {k.name: k for k in found.kpis}


async def test_every_kpi_on_hand_made_data(db: asyncpg.Pool) -> None:
    await _world(db)
    found = _figures(await _gather(db))
    on_time = found["pickup_on_time"]  # p1, p6 of p1, p2, p6 ready and p3 late
    assert (on_time.numerator, on_time.denominator, on_time.value) == (2, 4, 50.0)
    stage = found["stage_time"]  # p1 4 min, p2 10 min; p6 two units, p8 two lines
    assert (stage.value, stage.samples) == (7.0, 2)
    refund = found["refund_initiation_latency"]
    assert (refund.value, refund.samples) == (90.0, 3)
    assert found["first_contact_resolution"].value is None
    alerts = found["back_in_stock_conversion"]  # x1, x3 of a1, a2, a3
    assert (alerts.numerator, alerts.denominator) == (2, 3)
    assert alerts.value == pytest.approx(200 / 3)
    async with db.acquire() as conn:
        surfaces = (await audit(conn)).defects
    defects = found["policy_consistency_defects"]
    assert defects.parts == {"policy_surfaces": surfaces, "price_mismatches": 1}
    assert defects.value == surfaces + 1
    # Cohort: c1 (p1, back with s1), c2 (p2 only), c4 (p6, back after 70 days: too late),
    # c5 (s2, back with s3); c3 began before the period, c6's only order was cancelled.
    repeat = found["repeat_purchase_rate"]
    assert (repeat.numerator, repeat.denominator, repeat.value) == (2, 4, 50.0)


async def test_per_store_and_channel(db: asyncpg.Pool) -> None:
    await _world(db)
    found = await _gather(db)
    stores = {b.location: b for b in found.by_store}
    assert list(stores) == ["DC", "S1", "S2"]
    s1 = stores["S1"]  # p1 p2 p3 p4 p8 s1 s2
    assert (s1.orders, s1.revenue, s1.oversells) == (7, "85.50", 2)
    assert (s1.returns_rate, s1.split_shipment_rate) == (20.0, 50.0)  # 1 of 5; s1 of s1, s2
    s2 = stores["S2"]
    assert (s2.orders, s2.revenue, s2.returns_rate, s2.oversells) == (1, "20.00", 0.0, 1)
    assert s2.split_shipment_rate is None
    dc = stores["DC"]
    assert (dc.orders, dc.revenue, dc.returns_rate, dc.oversells) == (1, "10.00", None, 0)
    channels = {b.channel: b for b in found.by_channel}
    online, store = channels["online"], channels["store"]
    assert (online.orders, online.revenue, online.oversells) == (8, "95.50", 0)
    assert (online.returns_rate, online.split_shipment_rate) == (20.0, 50.0)
    assert (store.orders, store.revenue, store.oversells) == (1, "20.00", 3)


async def test_filtered_by_location_and_channel(db: asyncpg.Pool) -> None:
    await _world(db)
    at_s1 = await _gather(db, location="S1")
    found = _figures(at_s1)
    on_time = found["pickup_on_time"]  # p1 of p1, p2 and p3 (late, not ready)
    assert (on_time.numerator, on_time.denominator) == (1, 3)
    assert found["refund_initiation_latency"].value == 60.0  # 30 and 90
    alerts, repeat = found["back_in_stock_conversion"], found["repeat_purchase_rate"]
    assert (alerts.numerator, alerts.denominator) == (1, 2)  # a1 of a1 and a2
    assert (repeat.numerator, repeat.denominator) == (2, 3)  # c1, c5 of c1, c2, c5
    assert [b.location for b in at_s1.by_store] == ["S1"]
    assert {b.channel: b.oversells for b in at_s1.by_channel} == {"online": 0, "store": 2}
    store = _figures(await _gather(db, channel="store"))
    assert store["pickup_on_time"].value == 100.0 and store["stage_time"].value is None
    assert store["refund_initiation_latency"].value == 600.0
    assert store["policy_consistency_defects"].parts["price_mismatches"] == 0
    online = await _gather(db, channel="online")
    assert sum(b.oversells for b in online.by_store) == 0  # registers sell on the store channel


async def test_nothing_to_measure_is_null(db: asyncpg.Pool) -> None:
    found = await _gather(db)
    for name in ("pickup_on_time", "stage_time", "back_in_stock_conversion"):
        assert _figures(found)[name].value is None
    assert found.by_store == [] and found.by_channel == []


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def test_route_answers_and_refuses(api: Api) -> None:
    await _world(api.services.pool)
    query = f"from={_iso(P0)}&to=2026-03-08T01:00:00%2B01:00"  # the same instant as P1
    resp = await api.call("GET", f"/v1/kpis?{query}", "orders")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["from"] == "2026-03-01T00:00:00Z" and body["location"] is None
    on_time = next(k for k in body["kpis"] if k["name"] == "pickup_on_time")
    # Asked now (the wall clock), p4's promise has passed too: late as well.
    assert on_time["denominator"] == 5 and on_time["formula"].startswith("count(ready_at")
    assert {b["location"] for b in body["by_store"]} == {"DC", "S1", "S2"}
    # A key bound to S1: its own store only, named.
    own = await api.call("GET", f"/v1/kpis?{query}&location=S1", "pos")
    assert own.status_code == 200 and [b["location"] for b in own.json()["by_store"]] == ["S1"]
    assert_problem(await api.call("GET", f"/v1/kpis?{query}&location=S2", "pos"), 403)
    assert_problem(await api.call("GET", f"/v1/kpis?{query}", "pos"), 403, "location-not-allowed")
    assert_problem(await api.call("GET", "/v1/kpis", "reader"), 403)
    # Default period: the last week, to now.
    recent = (await api.call("GET", "/v1/kpis", "orders")).json()
    since = dt.datetime.fromisoformat(recent["from"])
    until = dt.datetime.fromisoformat(recent["to"])
    assert until - since == dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-01", "from"),
        ("from=2026-03-01T00:00:00", "from"),  # no offset
        ("to=yesterday", "to"),
        ("from=2026-03-08T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "to"),  # over a year
        ("channel=phone", "channel"),
        ("location=bad%20id", "location"),
    ],
)
async def test_route_bad_input_names_the_field(api: Api, query: str, field: str) -> None:
    resp = await api.call("GET", f"/v1/kpis?{query}", "orders")
    assert field_of(assert_problem(resp, 422)) == field


def _gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_gauges_refresh_and_forget_a_quiet_store(db: asyncpg.Pool) -> None:
    now = dt.datetime.now(dt.UTC)
    await _order(
        db, "g1", now - HOUR, location="S9", promised=now, staged=now - HOUR + 3 * MIN,
        ready=now - 30 * MIN, lines=[(1, "12.00", 1, 0)],
    )  # fmt: skip
    # Four resolved tickets on g1: three answered once, one answered twice.
    for i, agent_replies in enumerate([1, 1, 1, 2]):
        await db.execute(
            "INSERT INTO support_tickets (id, order_id, topic, channel, opened_at, resolved_at,"
            " agent_replies) VALUES ($1, 'g1', 'other', 'chat', $2, $3, $4)",
            f"tk-{i}", now - HOUR, now, agent_replies,
        )  # fmt: skip
    gauges = KpiGauges(db)
    await gauges.refresh()
    assert _gauge("atp_kpi", kpi="pickup_on_time") == 100.0
    assert _gauge("atp_kpi", kpi="stage_time") == 3.0
    assert _gauge("atp_kpi", kpi="first_contact_resolution") == 75.0
    assert _gauge("atp_kpi_store", location="S9", figure="orders") == 1
    assert _gauge("atp_kpi_store", location="S9", figure="revenue") == 12.0
    assert _gauge("atp_kpi_channel", channel="online", figure="returns_rate") == 0.0
    await db.execute("DELETE FROM support_tickets")
    await db.execute("DELETE FROM orders WHERE id = 'g1'")
    await gauges.refresh()
    assert _gauge("atp_kpi_store", location="S9", figure="orders") == 0
    rate = _gauge("atp_kpi_store", location="S9", figure="returns_rate")
    assert rate is not None and rate != rate  # NaN: nothing to measure
    stage = _gauge("atp_kpi", kpi="stage_time")
    assert stage is not None and stage != stage
