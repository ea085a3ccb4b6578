"""Return anywhere over the API (orders/returns.py, api/routes_returns.py): an order from
any channel returned at another store restocks there, damaged units are counted apart,
what the order or the policy does not allow is refused with nothing stored, retries answer
the same, and a process dying between the steps is finished by resume_stale."""

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from api.auth import Scope
from api.keystore import create_key
from atp.clock import ManualClock, instant
from atp.model import Channel
from orders import returns
from orders.return_rules import ReturnLine, ReturnRequest
from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind
from support.harness import Api, assert_problem, catalog, field_of
from support.samples_returns import insert_order, seed_policy

STORE = frozenset({Capability.pickup, Capability.ship_from_store})
LOCATIONS = [
    RoutingLocation("S1", LocationKind.store, STORE, 59.91, 10.75, 100),
    RoutingLocation("S2", LocationKind.store, STORE, 59.95, 10.80, 100),
]
ORDERS = [Scope.orders_read, Scope.orders_write]


@pytest.fixture
async def world(api: Api) -> Api:
    """S1 and S2 with 10 of A each; order o-1 picked up at S1 yesterday (3 of A at 12.50,
    2 of B unpriced); a key bound to S2 ("s2")."""
    pool = api.services.pool
    await catalog(pool, LOCATIONS)
    await seed_policy(pool)
    for location in ("S1", "S2"):
        await api.engine.stock.adjust("A", location, 10, "receipt")
    await insert_order(pool, "o-1", "S1", [("A", 3, Decimal("12.50")), ("B", 2, None)])
    async with pool.acquire() as conn:
        api.keys["s2"] = (await create_key(conn, ORDERS, ["S2"], "s2"))[1]
    return api


def body(rid: str = "ret-1", location: str = "S2", order: str = "o-1", **line: Any) -> Any:
    first = {"sku": "A", "qty": 2, "reason": "changed_mind", "condition": "new", **line}
    return {"id": rid, "order_id": order, "location": location, "lines": [first]}


async def on_hand(api: Api, location: str, sku: str = "A") -> int:
    return (await api.engine.availability.position(sku, location)).on_hand


async def nothing_stored(api: Api, rid: str = "ret-1") -> None:
    pool = api.services.pool
    assert await pool.fetchval("SELECT count(*) FROM returns WHERE id = $1", rid) == 0
    assert await pool.fetchval("SELECT sum(returned) FROM order_lines") == 0
    assert await on_hand(api, "S2") == await on_hand(api, "S1") == 10


async def test_a_pickup_at_s1_returned_at_s2_restocks_there(world: Api) -> None:
    r = await world.call("POST", "/v1/returns", "s2", json=body())
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["state"] == "received" and got["return_received_at"] is not None
    assert got["policy"] == {"name": "returns", "version": 1}
    assert got["lines"][0]["disposition"] == "restocked"
    assert Decimal(got["refund_amount"]) == Decimal("25.00")
    assert await on_hand(world, "S2") == 12 and await on_hand(world, "S1") == 10
    position = await world.engine.availability.position("A", "S2")
    assert position.atp(Channel.online) == 12
    returned = await world.services.pool.fetchval(
        "SELECT returned FROM order_lines WHERE order_id = 'o-1' AND sku = 'A'"
    )
    assert returned == 2


async def test_damaged_units_go_to_the_non_sellable_count_not_on_hand(world: Api) -> None:
    payload = body(reason="defective", condition="damaged")
    r = await world.call("POST", "/v1/returns", "s2", json=payload)
    assert r.status_code == 201, r.text
    assert r.json()["lines"][0]["disposition"] == "non_sellable"
    assert await on_hand(world, "S2") == 10
    count = await world.services.pool.fetchval(
        "SELECT qty FROM non_sellable_stock WHERE sku = 'A' AND location = 'S2'"
    )
    assert count == 2


async def test_returning_more_than_was_delivered_is_409(world: Api) -> None:
    r = await world.call("POST", "/v1/returns", "s2", json=body(qty=4))
    problem = assert_problem(r, 409, "over-return")
    assert field_of(problem) == "lines[0].qty" and "3 delivered" in problem["detail"]
    assert (await world.call("POST", "/v1/returns", "s2", json=body(qty=2))).status_code == 201
    again = await world.call("POST", "/v1/returns", "s2", json=body("ret-2", qty=2))
    assert "2 already returned" in assert_problem(again, 409, "over-return")["detail"]
    assert await on_hand(world, "S2") == 12


async def test_outside_the_window_is_409_naming_the_policy_version(world: Api) -> None:
    await insert_order(world.services.pool, "o-old", "S1", [("A", 1, None)], delivered_days_ago=31)
    r = await world.call("POST", "/v1/returns", "s2", json=body(order="o-old", qty=1))
    problem = assert_problem(r, 409, "not-eligible")
    assert field_of(problem) == "lines[0]" and "returns policy v1" in problem["detail"]
    damaged = body(reason="changed_mind", condition="damaged")
    problem = assert_problem(await world.call("POST", "/v1/returns", "s2", json=damaged), 409)
    assert field_of(problem) == "lines[0].condition" and "v1" in problem["detail"]
    await nothing_stored(world)


async def test_an_order_not_delivered_cannot_be_returned(world: Api) -> None:
    pool = world.services.pool
    await insert_order(pool, "o-open", "S1", [("A", 1, None)], delivered_days_ago=None)
    r = await world.call("POST", "/v1/returns", "s2", json=body(order="o-open", qty=1))
    problem = assert_problem(r, 409, "over-return")  # nothing was delivered
    assert field_of(problem) == "lines[0].qty" and "0 delivered" in problem["detail"]


async def test_a_shipped_order_is_returned_at_a_store(world: Api) -> None:
    await insert_order(world.services.pool, "o-web", "S1", [("A", 1, None)], via="shipped")
    r = await world.call(
        "POST", "/v1/returns", "pos", json=body(order="o-web", location="S1", qty=1)
    )
    assert r.status_code == 201, r.text
    assert r.json()["refund_amount"] is None  # no price on the order
    assert await on_hand(world, "S1") == 11


async def test_a_retry_answers_the_same_and_another_body_is_409(world: Api) -> None:
    first = await world.call("POST", "/v1/returns", "s2", json=body())
    again = await world.call("POST", "/v1/returns", "s2", json=body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await on_hand(world, "S2") == 12  # restocked once
    other = await world.call("POST", "/v1/returns", "s2", json=body(qty=1))
    assert field_of(assert_problem(other, 409, "return-conflict")) == "id"
    key = {"Idempotency-Key": "k-ret-3"}
    made = await world.call("POST", "/v1/returns", "s2", json=body("ret-3", qty=1), headers=key)
    replay = await world.call("POST", "/v1/returns", "s2", json=body("ret-3", qty=1), headers=key)
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == made.json()


async def test_the_refund_is_recorded_once(world: Api) -> None:
    assert (await world.call("POST", "/v1/returns", "s2", json=body())).status_code == 201
    first = await world.call("POST", "/v1/returns/ret-1/refund", "s2")
    again = await world.call("POST", "/v1/returns/ret-1/refund", "s2")
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["state"] == "refund_initiated"
    assert first.json()["refund_initiated_at"] == again.json()["refund_initiated_at"] is not None
    read = await world.call("GET", "/v1/returns/ret-1", "s2")
    assert read.json() == first.json()
    missing = await world.call("POST", "/v1/returns/ret-none/refund", "s2")
    assert_problem(missing, 404, "return-not-found")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "bored"}, "lines[0].reason"),
        ({"condition": "worn"}, "lines[0].condition"),
        ({"qty": 0}, "lines[0].qty"),
        ({"sku": "Z"}, "lines[0].sku"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    world: Api, change: dict[str, Any], field: str
) -> None:
    r = await world.call("POST", "/v1/returns", "s2", json=body(**change))
    assert field_of(assert_problem(r, 422)) == field
    await nothing_stored(world)


async def test_an_unknown_order_or_location_is_named(world: Api) -> None:
    r = await world.call("POST", "/v1/returns", json=body(order="o-none"))
    assert field_of(assert_problem(r, 404, "order-not-found")) == "order_id"
    r = await world.call("POST", "/v1/returns", json=body(location="S9"))
    assert field_of(assert_problem(r, 422)) == "location"
    await nothing_stored(world)


async def test_a_store_bound_key_acts_and_reads_only_at_its_stores(world: Api) -> None:
    r = await world.call("POST", "/v1/returns", "s2", json=body(location="S1"))
    assert_problem(r, 403, "location-not-allowed")
    assert (
        await world.call("POST", "/v1/returns", "pos", json=body(location="S1"))
    ).status_code == 201
    assert_problem(await world.call("GET", "/v1/returns/ret-1", "s2"), 403, "location-not-allowed")
    assert_problem(await world.call("POST", "/v1/returns/ret-1/refund", "s2"), 403)
    assert (await world.call("GET", "/v1/returns?order_id=o-1", "s2")).json()["items"] == []
    mine = (await world.call("GET", "/v1/returns?order_id=o-1", "pos")).json()
    assert [i["id"] for i in mine["items"]] == ["ret-1"] and mine["next_cursor"] is None


async def test_the_list_pages_oldest_first(world: Api) -> None:
    for i in range(3):
        made = await world.call("POST", "/v1/returns", "s2", json=body(f"ret-{i}", qty=1))
        assert made.status_code == 201, made.text
    page = (await world.call("GET", "/v1/returns?location=S2&limit=2", "orders")).json()
    assert [i["id"] for i in page["items"]] == ["ret-0", "ret-1"]
    rest = await world.call("GET", f"/v1/returns?location=S2&cursor={page['next_cursor']}")
    assert [i["id"] for i in rest.json()["items"]] == ["ret-2"]
    assert_problem(await world.call("GET", "/v1/returns?cursor=x"), 422)


# -- a process dying between the steps ---------------------------------------------------


def request(rid: str = "ret-1", condition: str = "new") -> ReturnRequest:
    reason = "defective" if condition == "damaged" else "changed_mind"
    lines = [ReturnLine("A", 2, reason, condition), ReturnLine("A", 1, "defective", "damaged")]
    return ReturnRequest(rid, "o-1", "S2", lines)


async def begun(api: Api, rid: str = "ret-1") -> None:
    """Step (1) alone: the row pending, as a process that died before the ledger left it."""
    async with api.services.pool.acquire() as conn, conn.transaction():
        await returns._begin(conn, request(rid), "tests", instant(ManualClock()))


async def resume(api: Api) -> int:
    services = api.services
    return await returns.resume_stale(services.pool, services.engine, services.durability, 0.0)


async def agree(api: Api) -> None:
    """The row, the order lines, the non-sellable count and the ledger say the same."""
    pool = api.services.pool
    assert await pool.fetchval("SELECT state FROM returns WHERE id = 'ret-1'") == "received"
    returned = "SELECT returned FROM order_lines WHERE order_id = 'o-1' AND sku = 'A'"
    assert await pool.fetchval(returned) == 3
    assert await pool.fetchval("SELECT qty FROM non_sellable_stock") == 1
    assert await on_hand(api, "S2") == 12  # the 2 sellable ones, once


async def test_dying_before_the_ledger_write_is_finished_by_the_sweep(world: Api) -> None:
    await begun(world)
    assert await on_hand(world, "S2") == 10
    assert await resume(world) == 1
    await agree(world)
    assert await resume(world) == 0
    await agree(world)


async def test_dying_after_the_ledger_write_applies_it_once(world: Api) -> None:
    await begun(world)
    found = await returns.get(world.services.pool, "ret-1")
    assert found is not None
    await returns._restock(world.engine, world.services.durability, found)
    assert await on_hand(world, "S2") == 12
    assert await resume(world) == 1
    await agree(world)


async def test_a_ledger_failure_leaves_it_pending_and_a_retry_finishes_it(
    world: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, stock = world.services, world.engine.stock
    real = stock.adjust

    async def broken(*args: Any, **kw: Any) -> Any:
        monkeypatch.setattr(stock, "adjust", real)  # fails this once
        raise ConnectionError("redis went away")

    monkeypatch.setattr(stock, "adjust", broken)
    with pytest.raises(ConnectionError):
        await returns.create(services.pool, world.engine, services.durability, request())
    assert await services.pool.fetchval("SELECT state FROM returns") == "pending"
    again, created = await returns.create(
        services.pool, world.engine, services.durability, request()
    )
    assert not created and again.state == "received"
    await agree(world)
    assert await resume(world) == 0


async def test_a_refund_of_a_pending_return_finishes_it_first(world: Api) -> None:
    await begun(world)
    r = await world.call("POST", "/v1/returns/ret-1/refund", "s2")
    assert r.status_code == 200 and r.json()["state"] == "refund_initiated", r.text
    assert await on_hand(world, "S2") == 12


async def test_two_tills_sending_the_same_return_record_it_once(world: Api) -> None:
    both = await asyncio.gather(
        *(world.call("POST", "/v1/returns", "s2", json=body(qty=3)) for _ in range(2))
    )
    assert sorted(r.status_code for r in both) == [200, 201], [r.text for r in both]
    assert both[0].json() == both[1].json()
    assert await on_hand(world, "S2") == 13
