"""Register sales and returns carrying a customer or a price (orders/register_sales.py over
POST /v1/pos/{device_id}/events): one row per event however often replayed, joined into the
customer an order by the same email joined, listed in that customer's history, priced sales
checked against the price in force when sold (channel store), voids, conflicts, refusals
naming the field, and no customer data in the register's answer."""

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg

from atp.clock import ManualClock, instant
from orders import customers, prices
from orders.price_rules import check
from support.harness import Api, assert_problem, field_of
from support.samples_returns import insert_order

URL = "/v1/pos/till-1/events"
EMAIL = "kari@example.no"


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def _priced(pool: asyncpg.Pool, price: str = "100") -> dt.datetime:
    """A's price from now; returns an instant after it, when register sales happen."""
    async with pool.acquire() as conn:
        _, saved = await prices.save(
            conn, "A", check(price, "NOK"), "tests", instant(ManualClock())
        )
    return saved.valid_from + dt.timedelta(minutes=5)


def _event(eid: str, seq: int, at: dt.datetime, kind: str = "sale", **extra: Any) -> Any:
    return {
        "type": kind,
        "event_id": eid,
        "device_seq": seq,
        "occurred_at": _iso(at),
        "sku": "A",
        "location": "S1",
        "qty": 2,
        **extra,
    }


async def _replay(api: Api, *events: Any) -> list[dict[str, Any]]:
    r = await api.call("POST", URL, "pos", json={"events": list(events)})
    assert r.status_code == 200, r.text
    # Customer data is never in a register's answer.
    assert EMAIL not in r.text and "+47" not in r.text and "acct-" not in r.text
    assert r.json().keys() == {"device_id", "results"}
    results: list[dict[str, Any]] = r.json()["results"]
    assert all(set(x) <= {"event_id", "status", "oversold", "detail"} for x in results)
    return results


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch("SELECT * FROM register_sales ORDER BY id")
    return rows


async def _mismatches(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch("SELECT * FROM price_mismatches ORDER BY id")
    return rows


async def _history(api: Api, customer: str) -> dict[str, Any]:
    r = await api.call("GET", f"/v1/customers/{customer}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_a_sale_records_once_with_its_customer_and_price(api: Api) -> None:
    pool = api.services.pool
    at = await _priced(pool)
    sale = _event("e1", 1, at, customer={"email": " Kari@Example.no"}, unit_price="100.00")
    for status in ("applied", "duplicate", "duplicate"):
        assert [r["status"] for r in await _replay(api, sale)] == [status]
    (row,) = await _rows(pool)
    assert (row["device_id"], row["event_id"], row["kind"], row["qty"]) == (
        "till-1",
        "e1",
        "sale",
        2,
    )
    assert (row["unit_price"], row["currency"], row["location"]) == (Decimal("100"), "NOK", "S1")
    assert row["customer_email"] == EMAIL and row["occurred_at"] == at
    assert row["customer"] is not None and row["voided_at"] is None
    assert await _mismatches(pool) == []  # sold at the price in force
    assert (await api.call("GET", "/v1/availability/A?location=S1", "reader")).status_code == 200


async def test_register_and_order_join_one_customer_and_one_history(api: Api) -> None:
    pool = api.services.pool
    at = await _priced(pool)
    await insert_order(pool, "web-1", "S1", [("A", 1, Decimal("100.00"))])
    await pool.execute("UPDATE orders SET customer_email = $1 WHERE id = 'web-1'", EMAIL)
    async with pool.acquire() as conn:
        await customers.resolve_all(conn)
    await _replay(
        api,
        _event("e1", 1, at, customer={"email": EMAIL, "phone": "+47 912 34 567"}, unit_price=90),
        _event("e2", 2, at + dt.timedelta(hours=1), "return", qty=1, customer={"email": EMAIL}),
        _event("e3", 3, at, qty=1),  # no customer, no price: the ledger's alone
    )
    rows = await _rows(pool)
    assert [r["event_id"] for r in rows] == ["e1", "e2"]
    assert rows[0]["customer"] == rows[1]["customer"]
    history = await _history(api, rows[0]["customer"])
    assert [o["id"] for o in history["orders"]] == ["web-1"]
    assert {"kind": "phone", "value": "+4791234567"} in history["identities"]
    register = history["register"]
    assert [(e["kind"], e["event_id"], e["qty"]) for e in register] == [
        ("return", "e2", 1),
        ("sale", "e1", 2),
    ]
    sold = register[1]
    assert (sold["channel"], sold["location"], sold["sku"]) == ("store", "S1", "A")
    assert (sold["unit_price"], sold["currency"], sold["voided"]) == ("90.00", "NOK", False)
    assert dt.datetime.fromisoformat(sold["occurred_at"]) == at
    (mismatch,) = await _mismatches(pool)  # 90 where 100 was in force
    assert (mismatch["sale_ref"], mismatch["channel"], mismatch["location"]) == (
        "till-1/e1",
        "store",
        "S1",
    )
    assert (mismatch["sold_price"], mismatch["price"]) == (Decimal("90"), Decimal("100"))


async def test_a_void_takes_the_sale_out_of_history_and_mismatches(api: Api) -> None:
    pool = api.services.pool
    at = await _priced(pool)
    await _replay(api, _event("e1", 1, at, customer={"id": "acct-7"}, unit_price="80"))
    assert len(await _mismatches(pool)) == 1
    void = {
        "type": "void",
        "event_id": "e2",
        "device_seq": 2,
        "occurred_at": _iso(at),
        "voids": "e1",
    }
    for status in ("applied", "duplicate"):
        assert [r["status"] for r in await _replay(api, void)] == [status]
    (row,) = await _rows(pool)
    assert row["voided_at"] == at
    assert await _mismatches(pool) == []
    history = await _history(api, row["customer"])
    assert [e["voided"] for e in history["register"]] == [True]


async def test_a_replay_with_another_price_or_customer_is_a_conflict(api: Api) -> None:
    pool = api.services.pool
    at = await _priced(pool)
    await _replay(api, _event("e1", 1, at, unit_price="100"))
    results = await _replay(api, _event("e1", 1, at, unit_price="95"))
    assert results[0]["status"] == "conflict" and "event_id" in results[0]["detail"]
    results = await _replay(api, _event("e1", 1, at, unit_price="100", customer={"id": "a-1"}))
    assert results[0]["status"] == "conflict"
    (row,) = await _rows(pool)
    assert row["unit_price"] == Decimal("100") and row["customer_id"] is None
    assert await _mismatches(pool) == []


async def test_a_retry_records_what_a_failed_attempt_did_not(api: Api) -> None:
    """The ledger applied the sale but its row was lost (as when PostgreSQL failed before
    the answer): the register retries, the ledger says duplicate, the row is recorded."""
    pool = api.services.pool
    at = await _priced(pool)
    sale = _event("e1", 1, at, customer={"phone": "+4791234567"})
    await _replay(api, sale)
    await pool.execute("DELETE FROM register_sales")
    assert [r["status"] for r in await _replay(api, sale)] == ["duplicate"]
    (row,) = await _rows(pool)
    assert row["customer_phone"] == "+4791234567" and row["unit_price"] is None
    assert row["currency"] is None


async def test_refusals_name_the_field_and_touch_nothing(api: Api) -> None:
    pool = api.services.pool
    at = await _priced(pool)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"customer": {"email": "nope"}}, "events[1].customer.email"),
        ({"customer": {}}, "events[1].customer"),
        ({"unit_price": "1.999"}, "events[1].unit_price"),
        ({"unit_price": "-1"}, "events[1].unit_price"),
        ({"unit_price": 10, "currency": "nok"}, "events[1].currency"),
        ({"currency": "NOK"}, "events[1].currency"),
        ({"customer": {"email": EMAIL, "name": "Kari"}}, "events[1].customer.name"),
    ]
    for extra, field in cases:
        body = {"events": [_event("e1", 1, at), _event("e2", 2, at, **extra)]}
        r = await api.call("POST", URL, "pos", json=body)
        assert field_of(assert_problem(r, 422, "invalid-input")) == field, (extra, r.text)
    r = await api.call(
        "POST", URL, "pos", json={"events": [_event("e1", 1, at, "return", unit_price=1)]}
    )
    assert "unit_price" in field_of(assert_problem(r, 422, "invalid-input"))
    assert await _rows(pool) == []
    on_hand = (await api.call("GET", "/v1/availability/A?location=S1", "reader")).json()
    assert on_hand["rows"][0]["on_hand"] == 0  # no event applied


async def test_concurrent_replays_record_once_and_join_one_customer(api: Api) -> None:
    pool = api.services.pool
    at = await _priced(pool)
    first = _event("e1", 1, at, customer={"email": EMAIL}, unit_price="70")
    second = _event("e2", 2, at, qty=1, customer={"email": EMAIL.upper()}, unit_price="70")
    answers = await asyncio.gather(*(_replay(api, first, second) for _ in range(4)))
    statuses = sorted(r["status"] for results in answers for r in results)
    assert statuses.count("applied") == 2 and statuses.count("conflict") == 0
    rows = await _rows(pool)
    assert [r["event_id"] for r in rows] == ["e1", "e2"]
    assert rows[0]["customer"] == rows[1]["customer"] is not None
    assert await pool.fetchval("SELECT count(*) FROM customers") == 1
    assert len(await _mismatches(pool)) == 2  # each sale once
