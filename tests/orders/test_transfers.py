"""Transfers through the API (orders/transfers.py, api/routes_transfers.py): units leave the
sender, are dated incoming at the receiver, are received partly or at once, or sent back;
and a process dying between a step's row and its ledger write is finished by the sweep."""

import asyncio
import datetime
from typing import Any

import pytest
from msgspec.structs import replace

from atp.model import AdjustReason, Position
from orders import transfer_rules as rules
from orders import transfer_store as store
from orders.transfer_rules import Spec, Step, TransferResult
from orders.transfers import Transfers, resume_stale
from reservations.model import Line
from support.harness import Api, assert_problem, catalog, field_of
from support.routes_table import LOCATIONS

DAY = "2026-12-20"


def body(tid: str = "t-1", qty: int = 5, **over: Any) -> dict[str, Any]:
    return {"id": tid, "sku": "A", "from": "S1", "to": "S2", "qty": qty, "expected_on": DAY, **over}


async def at(api: Api, location: str, sku: str = "A") -> Position:
    return await api.engine.availability.position(sku, location)


async def supplies(api: Api, location: str) -> dict[str, tuple[int, datetime.date]]:
    found = await api.engine.availability.supplies([("A", location)])
    return {s.supply_id: (s.qty, s.expected_on) for s in found[("A", location)]}


@pytest.fixture
async def world(api: Api) -> Api:
    await catalog(api.services.pool, LOCATIONS)
    for location in ("S1", "S2"):
        await api.engine.stock.adjust("A", location, 50, "receipt")
    return api


def service(api: Api) -> Transfers:
    return Transfers(api.services.pool, api.engine, api.services.durability)


async def test_a_transfer_leaves_the_sender_and_is_incoming_at_the_receiver(world: Api) -> None:
    r = await world.call("POST", "/v1/transfers", "stock", json=body())
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["state"] == "in_transit" and sent["in_transit"] == 5 and sent["from"] == "S1"
    assert sent["shipped_at"] is not None and sent["received"] == 0
    assert (await at(world, "S1")).on_hand == 45
    s2 = await at(world, "S2")
    assert (s2.on_hand, s2.incoming) == (50, 5)
    assert await supplies(world, "S2") == {"trf-t-1": (5, datetime.date(2026, 12, 20))}
    got = await world.call("GET", "/v1/transfers/t-1", "stock")
    assert got.status_code == 200 and got.json() == sent
    listed = await world.call("GET", "/v1/transfers?location=S2&state=in_transit", "stock")
    assert [t["id"] for t in listed.json()["items"]] == ["t-1"]
    none = await world.call("GET", "/v1/transfers?state=received", "stock")
    assert none.json() == {"items": [], "next_cursor": None}


async def test_a_retry_answers_the_same_and_another_body_is_refused(world: Api) -> None:
    first = await world.call("POST", "/v1/transfers", "stock", json=body())
    again = await world.call("POST", "/v1/transfers", "stock", json=body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    other = await world.call("POST", "/v1/transfers", "stock", json=body(qty=6))
    assert field_of(assert_problem(other, 409, "transfer-conflict")) == "id"
    assert (await at(world, "S1")).on_hand == 45  # taken once
    keyed = {"Idempotency-Key": "k-1"}
    a = await world.call("POST", "/v1/transfers", "stock", json=body("t-2"), headers=keyed)
    b = await world.call("POST", "/v1/transfers", "stock", json=body("t-2"), headers=keyed)
    assert (a.status_code, b.status_code) == (201, 201) and a.json() == b.json()
    assert (await at(world, "S1")).on_hand == 40


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"qty": 0}, "qty"),
        ({"qty": -3}, "qty"),
        ({"to": "S1"}, "to"),
        ({"to": "S9"}, "to"),
        ({"from": "S9"}, "from"),
        ({"expected_on": "someday"}, "expected_on"),
        ({"id": "t" * (rules.TRANSFER_ID_LENGTH_MAX + 1)}, "id"),
        ({"sku": "not an id"}, "sku"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    world: Api, change: dict[str, Any], field: str
) -> None:
    r = await world.call("POST", "/v1/transfers", "stock", json=body() | change)
    assert r.status_code in (400, 422), r.text
    assert field_of(assert_problem(r, r.status_code)) == field
    assert await world.services.pool.fetchval("SELECT count(*) FROM transfers") == 0
    assert (await at(world, "S1")).on_hand == 50 and (await at(world, "S2")).incoming == 0


async def test_units_promised_to_reservations_do_not_leave(world: Api) -> None:
    held = await world.engine.reservations.reserve("r-1", "online", [Line("A", "S1", 48)], 900)
    assert held.ok
    r = await world.call("POST", "/v1/transfers", "stock", json=body(qty=3))
    problem = assert_problem(r, 409, "insufficient")
    assert field_of(problem) == "qty" and "2 available at S1" in problem["detail"]
    assert await world.services.pool.fetchval("SELECT count(*) FROM transfers") == 0
    assert (await at(world, "S1")).on_hand == 50 and (await at(world, "S2")).incoming == 0
    ok = await world.call("POST", "/v1/transfers", "stock", json=body(qty=2))
    assert ok.status_code == 201


async def test_partial_receipts_then_the_rest(world: Api) -> None:
    await world.call("POST", "/v1/transfers", "stock", json=body())
    path = "/v1/transfers/t-1/receive"
    part = {"qty": 2, "receipt_id": "box-1"}
    r = await world.call("POST", path, "stock", json=part)
    assert r.status_code == 200, r.text
    assert (r.json()["received"], r.json()["in_transit"], r.json()["state"]) == (2, 3, "in_transit")
    again = await world.call("POST", path, "stock", json=part)
    assert again.status_code == 200 and again.json()["received"] == 2  # counted once
    s2 = await at(world, "S2")
    assert (s2.on_hand, s2.incoming) == (52, 3)
    other = await world.call("POST", path, "stock", json={"qty": 1, "receipt_id": "box-1"})
    assert field_of(assert_problem(other, 409, "receipt-conflict")) == "receipt_id"
    over = await world.call("POST", path, "stock", json={"qty": 4, "receipt_id": "box-2"})
    assert field_of(assert_problem(over, 409, "over-receipt")) == "qty"
    unnamed = await world.call("POST", path, "stock", json={"qty": 1})
    assert field_of(assert_problem(unnamed, 422)) == "receipt_id"
    rest = await world.call("POST", path, "stock")
    assert rest.status_code == 200, rest.text
    done = rest.json()
    assert (done["state"], done["received"], done["in_transit"]) == ("received", 5, 0)
    assert done["received_at"] is not None
    assert {x["receipt_id"]: x["qty"] for x in done["receipts"]} == {"box-1": 2, "all": 3}
    assert (await world.call("POST", path, "stock")).json() == done  # the rest, again
    s2 = await at(world, "S2")
    assert (s2.on_hand, s2.incoming) == (55, 0) and await supplies(world, "S2") == {}
    late = await world.call("POST", path, "stock", json={"qty": 1, "receipt_id": "box-3"})
    assert_problem(late, 409, "transfer-closed")
    cancel = await world.call("POST", "/v1/transfers/t-1/cancel", "stock")
    assert_problem(cancel, 409, "transfer-closed")


async def test_cancelling_sends_what_is_in_transit_back(world: Api) -> None:
    await world.call("POST", "/v1/transfers", "stock", json=body())
    await world.call(
        "POST", "/v1/transfers/t-1/receive", "stock", json={"qty": 2, "receipt_id": "b-1"}
    )
    r = await world.call("POST", "/v1/transfers/t-1/cancel", "stock")
    assert r.status_code == 200, r.text
    gone = r.json()
    assert (gone["state"], gone["returned"], gone["received"]) == ("cancelled", 3, 2)
    assert gone["cancelled_at"] is not None and gone["in_transit"] == 0
    assert (await at(world, "S1")).on_hand == 48
    s2 = await at(world, "S2")
    assert (s2.on_hand, s2.incoming) == (52, 0)
    again = await world.call("POST", "/v1/transfers/t-1/cancel", "stock")
    assert again.status_code == 200 and again.json() == gone
    assert (await at(world, "S1")).on_hand == 48  # sent back once
    late = await world.call("POST", "/v1/transfers/t-1/receive", "stock")
    assert_problem(late, 409, "transfer-closed")
    missing = await world.call("POST", "/v1/transfers/t-9/cancel", "stock")
    assert_problem(missing, 404, "transfer-not-found")


async def test_a_register_acts_only_at_its_own_end(world: Api) -> None:
    # pos is bound to S1: it sends from S1, never from S2.
    assert (await world.call("POST", "/v1/transfers", "pos", json=body())).status_code == 201
    refused = await world.call("POST", "/v1/transfers", "pos", json=body("t-2") | _S2_TO_S1)
    assert_problem(refused, 403, "location-not-allowed")
    assert await service(world).get("t-2") is None
    # A transfer into S1 it may receive but not cancel; one from S1 it may not receive.
    inbound = await world.call("POST", "/v1/transfers", "stock", json=body("t-3") | _S2_TO_S1)
    assert inbound.status_code == 201
    one = {"qty": 1, "receipt_id": "b-1"}
    ok = await world.call("POST", "/v1/transfers/t-3/receive", "pos", json=one)
    assert ok.status_code == 200, ok.text
    assert_problem(await world.call("POST", "/v1/transfers/t-3/cancel", "pos"), 403)
    assert_problem(await world.call("POST", "/v1/transfers/t-1/receive", "pos"), 403)
    # Reads: either end is its store; the list keeps to its stores.
    await catalog(world.services.pool, [replace(LOCATIONS[1], location="S3")])
    elsewhere = body("t-4") | {"from": "S2", "to": "S3"}
    assert (await world.call("POST", "/v1/transfers", "stock", json=elsewhere)).status_code == 201
    assert (await world.call("GET", "/v1/transfers/t-3", "pos")).status_code == 200
    assert_problem(await world.call("GET", "/v1/transfers/t-4", "pos"), 403)
    listed = await world.call("GET", "/v1/transfers", "pos")
    assert [t["id"] for t in listed.json()["items"]] == ["t-1", "t-3"]
    assert_problem(await world.call("GET", "/v1/transfers?location=S2", "pos"), 403)


_S2_TO_S1 = {"from": "S2", "to": "S1"}


# -- a process dying between a step's row and its ledger write ----------------------------

SPEC = Spec("t-1", "A", "S1", "S2", 5, datetime.date(2026, 12, 20))


async def resume(api: Api) -> int:
    services = api.services
    return await resume_stale(services.pool, api.engine, services.durability, 0.0)


async def row_of(api: Api) -> store.Transfer:
    found = await service(api).get("t-1")
    assert found is not None
    return found


async def shipped_once(api: Api) -> None:
    found = await row_of(api)
    assert (found.state, found.pending_step, found.in_transit) == ("in_transit", None, 5)
    assert (await at(api, "S1")).on_hand == 45
    assert (await at(api, "S2")).incoming == 5


async def test_a_create_begun_and_never_written_is_finished_by_the_sweep(world: Api) -> None:
    assert await store.insert(world.services.pool, SPEC, "tests")  # then the process died
    assert (await row_of(world)).state == "pending"
    assert await resume(world) == 1
    await shipped_once(world)
    assert await resume(world) == 0
    await shipped_once(world)


async def test_a_create_written_and_never_recorded_is_recorded_once(world: Api) -> None:
    assert await store.insert(world.services.pool, SPEC, "tests")
    stock = world.engine.stock
    await stock.adjust("A", "S1", -5, AdjustReason.transfer_out, rules.out_op("t-1"))
    await stock.add_incoming("A", "S2", rules.supply_id("t-1"), 5, SPEC.expected_on)
    assert await resume(world) == 1
    await shipped_once(world)


async def test_a_create_dying_between_its_ledger_writes_is_finished_once(
    world: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock = world.engine.stock

    async def dies(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("killed")

    monkeypatch.setattr(stock, "add_incoming", dies)
    with pytest.raises(ConnectionError):
        await service(world).create(SPEC, "tests")
    monkeypatch.undo()
    assert (await at(world, "S1")).on_hand == 45 and (await at(world, "S2")).incoming == 0
    # A retry finds the step begun and finishes it; the sweep then has nothing to do.
    retried = await world.call("POST", "/v1/transfers", "stock", json=body())
    assert retried.status_code == 201, retried.text
    await shipped_once(world)
    assert await resume(world) == 0


async def test_a_create_the_sender_cannot_cover_is_dropped_by_the_sweep(world: Api) -> None:
    short = Spec("t-1", "A", "S1", "S2", 60, SPEC.expected_on)
    assert await store.insert(world.services.pool, short, "tests")
    assert await resume(world) == 1
    assert await service(world).get("t-1") is None
    assert (await at(world, "S1")).on_hand == 50 and (await at(world, "S2")).incoming == 0


async def test_a_receiver_refusing_the_incoming_sends_the_units_back(world: Api) -> None:
    taken = rules.supply_id("t-1")  # a supply id already used at S2 with other values
    await world.engine.stock.add_incoming("A", "S2", taken, 9, SPEC.expected_on)
    r = await world.call("POST", "/v1/transfers", "stock", json=body())
    assert_problem(r, 409, "transfer-refused")
    again = await world.call("POST", "/v1/transfers", "stock", json=body())
    assert again.json()["detail"] == r.json()["detail"]
    found = await row_of(world)
    assert (found.state, found.returned, found.refusal) == ("cancelled", 5, "supply_conflict")
    assert (await at(world, "S1")).on_hand == 50 and (await at(world, "S2")).incoming == 9


async def begin(api: Api, step: Step, detail: dict[str, Any], received: int = 0) -> None:
    status = await api.services.pool.execute(
        store.BEGIN, "t-1", step.value, store.json({"step": detail}), None, "in_transit", received
    )
    assert status == "UPDATE 1"


async def sent(api: Api, received: int = 0) -> None:
    made = await service(api).create(SPEC, "tests")
    assert made.result is TransferResult.created
    if received:
        got = await service(api).receive("t-1", "b-1", received)
        assert got.result is TransferResult.applied


@pytest.mark.parametrize("written", [0, 1, 2])
async def test_a_cancel_begun_is_finished_once(world: Api, written: int) -> None:
    """Died after 0, 1 or 2 of its ledger writes (incoming cancelled, units given back)."""
    await sent(world, received=2)
    await begin(world, Step.cancel, {}, received=2)
    stock = world.engine.stock
    if written >= 1:
        await stock.cancel_incoming("A", "S2", rules.supply_id("t-1"), op_id=rules.cancel_op("t-1"))
    if written >= 2:
        await stock.adjust("A", "S1", 3, AdjustReason.transfer_in, rules.back_op("t-1"))
    assert await resume(world) == 1
    found = await row_of(world)
    assert (found.state, found.returned, found.received) == ("cancelled", 3, 2)
    assert (await at(world, "S1")).on_hand == 48
    s2 = await at(world, "S2")
    assert (s2.on_hand, s2.incoming) == (52, 0)
    assert await resume(world) == 0


@pytest.mark.parametrize("written", [False, True])
async def test_a_receipt_begun_is_counted_once(world: Api, written: bool) -> None:
    await sent(world)
    await begin(world, Step.receive, {"receipt_id": "b-1", "qty": 2})
    if written:
        await world.engine.stock.receive_incoming(
            "A", "S2", rules.supply_id("t-1"), 2, op_id=rules.receipt_op("t-1", "b-1")
        )
    assert await resume(world) == 1
    found = await row_of(world)
    assert (found.received, found.in_transit, found.pending_step) == (2, 3, None)
    s2 = await at(world, "S2")
    assert (s2.on_hand, s2.incoming) == (52, 3)
    # The same receipt again through the API: a duplicate.
    again = {"qty": 2, "receipt_id": "b-1"}
    r = await world.call("POST", "/v1/transfers/t-1/receive", "stock", json=again)
    assert r.status_code == 200 and r.json()["received"] == 2
    assert (await at(world, "S2")).on_hand == 52


async def test_two_associates_pressing_at_once_record_it_once(world: Api) -> None:
    sends = [world.call("POST", "/v1/transfers", "stock", json=body()) for _ in range(4)]
    made = await asyncio.gather(*sends)
    assert sorted(r.status_code for r in made) in ([200, 200, 200, 201], [201] * 4), made
    await shipped_once(world)
    path, box = "/v1/transfers/t-1/receive", {"qty": 2, "receipt_id": "box-1"}
    receipts = [world.call("POST", path, "stock", json=box) for _ in range(4)]
    got = await asyncio.gather(*receipts)
    assert {r.status_code for r in got} <= {200, 409}, [r.text for r in got]
    assert (await row_of(world)).received == 2
    assert (await at(world, "S2")).on_hand == 52
    cancels = await asyncio.gather(
        *(world.call("POST", "/v1/transfers/t-1/cancel", "stock") for _ in range(4))
    )
    assert {r.status_code for r in cancels} <= {200, 409}, [r.text for r in cancels]
    assert (await row_of(world)).returned == 3
    assert (await at(world, "S1")).on_hand == 48


async def test_the_list_pages_by_cursor(world: Api) -> None:
    for tid in ("t-1", "t-2", "t-3"):
        assert (await world.call("POST", "/v1/transfers", "stock", json=body(tid, 1))).is_success
    first = (await world.call("GET", "/v1/transfers?limit=2", "stock")).json()
    assert [t["id"] for t in first["items"]] == ["t-1", "t-2"] and first["next_cursor"]
    rest = await world.call("GET", f"/v1/transfers?limit=2&cursor={first['next_cursor']}", "stock")
    assert [t["id"] for t in rest.json()["items"]] == ["t-3"]
    bad = await world.call("GET", "/v1/transfers?state=lost", "stock")
    assert field_of(assert_problem(bad, 422)) == "state"


# -- the pure rules (no servers) -----------------------------------------------------------


def test_a_receipt_is_judged_against_what_is_recorded() -> None:
    applied, dup, clash = (
        TransferResult.applied,
        TransferResult.duplicate,
        TransferResult.receipt_conflict,
    )
    over = TransferResult.over_receipt
    assert rules.check_receipt(5, 0, {}, "b-1", 2) == (applied, 2)
    assert rules.check_receipt(5, 2, {}, "all", None) == (applied, 3)
    assert rules.check_receipt(5, 2, {"b-1": 2}, "b-1", 2) == (dup, 2)
    assert rules.check_receipt(5, 2, {"b-1": 2}, "b-1", None) == (dup, 2)
    assert rules.check_receipt(5, 2, {"b-1": 2}, "b-1", 1) == (clash, 2)
    assert rules.check_receipt(5, 2, {"b-1": 2}, "b-2", 4) == (over, 3)
    assert rules.check_receipt(5, 5, {"b-1": 5}, "b-2", None) == (over, 0)


def test_ledger_ids_stay_within_the_engine_bound_and_apart() -> None:
    longest = "x" * rules.TRANSFER_ID_LENGTH_MAX
    ids = [f(longest) for f in (rules.out_op, rules.undo_op, rules.cancel_op, rules.back_op)]
    ids += [rules.supply_id(longest), rules.receipt_op(longest, "y" * 64)]
    assert all(len(i) <= 64 for i in ids) and len(set(ids)) == len(ids)
    assert rules.receipt_op("a", "b") != rules.receipt_op("a", "c")
    spec = Spec("t", "A", "S1", "S2", 1, datetime.date(2026, 12, 20))
    assert spec.digest() == Spec("other", "A", "S1", "S2", 1, spec.expected_on).digest()
    assert spec.digest() != Spec("t", "A", "S1", "S2", 2, spec.expected_on).digest()
    assert rules.check_spec(Spec("t", "A", "S1", "S1", 1, spec.expected_on)) == (
        "to",
        "must differ from from",
    )
    assert rules.shortfall(spec, Position("A", "S1", on_hand=3, reserved=3)) == 0
    assert rules.shortfall(spec, Position("A", "S1", on_hand=3, reserved=2, safety=1)) is None
