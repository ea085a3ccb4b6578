"""Registers replaying offline queues: once each, in order, oversells explicit."""

from typing import Any

from atp import keys
from atp.events import read_events
from support.harness import Api, assert_problem, field_of

URL = "/v1/pos/till-1/events"
AT = "2026-11-22T10:00:00Z"


def sale(eid: str, seq: int, qty: int = 1, sku: str = "A", kind: str = "sale") -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": eid,
        "device_seq": seq,
        "occurred_at": AT,
        "sku": sku,
        "location": "S1",
        "qty": qty,
    }


def void(eid: str, seq: int, target: str) -> dict[str, Any]:
    return {"type": "void", "event_id": eid, "device_seq": seq, "occurred_at": AT, "voids": target}


async def replay(api: Api, *events: dict[str, Any], kind: str = "pos") -> list[dict[str, Any]]:
    r = await api.call("POST", URL, kind, json={"events": list(events)})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


async def row(api: Api) -> dict[str, Any]:
    r = await api.call("GET", "/v1/availability/A?location=S1&channel=store", "reader")
    result: dict[str, Any] = r.json()["rows"][0]
    return result


async def test_each_event_applies_once_however_often_replayed(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 10, "receipt")
    batch = [sale("e1", 1, 2), sale("e2", 2, 1, kind="return"), sale("e3", 3, 3)]
    assert [r["status"] for r in await replay(api, *batch)] == ["applied"] * 3
    for _ in range(3):
        assert [r["status"] for r in await replay(api, *batch)] == ["duplicate"] * 3
    assert (await row(api))["on_hand"] == 10 - 2 + 1 - 3


async def test_conflicts_by_event_id_and_by_device_seq(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 10, "receipt")
    await replay(api, sale("e1", 1, 2))
    results = await replay(api, sale("e1", 1, 3))
    assert results[0]["status"] == "conflict" and "event_id" in results[0]["detail"]
    results = await replay(api, sale("e9", 1, 1))
    assert results[0]["status"] == "conflict" and "device_seq" in results[0]["detail"]
    assert (await row(api))["on_hand"] == 8


async def test_a_sale_is_always_accepted_and_oversells_explicitly(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 3, "receipt")
    from reservations.model import Line

    await api.engine.reservations.reserve("web-1", "online", [Line("A", "S1", 2)])
    results = await replay(api, sale("e1", 1, 4))
    assert results == [{"event_id": "e1", "status": "applied", "oversold": 3}]
    current = await row(api)
    assert current["on_hand"] == 0 and current["oversold"] == 3 and current["atp"] == 0
    assert current["reserved"] == 2 and current["short"] == 2
    events = await read_events(api.engine.redis, keys.partition_of_sku("A"))
    assert [e.type for e in events][-2:] == ["adjusted", "oversold"]
    assert events[-2].reason == "pos_sale:till-1/e1" and events[-2].op_id == ""
    assert events[-1].reason == "3@till-1/e1"


async def test_void_reverses_its_target_once(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 1, "receipt")
    await replay(api, sale("e1", 1, 3))  # oversells 2, on hand clamps at 0
    assert (await row(api))["oversold"] == 2
    results = await replay(api, void("v1", 2, "e1"))
    assert results[0]["status"] == "applied"
    current = await row(api)
    assert current["on_hand"] == 1 and current["oversold"] == 0
    assert (await replay(api, void("v1", 2, "e1")))[0]["status"] == "duplicate"
    second = await replay(api, void("v2", 3, "e1"))
    assert second[0]["status"] == "conflict" and "already voided" in second[0]["detail"]
    assert (await row(api))["on_hand"] == 1


async def test_void_of_unknown_or_of_a_void_is_a_conflict(api: Api) -> None:
    results = await replay(api, void("v1", 1, "ghost"))
    assert results[0]["status"] == "conflict"
    await api.engine.stock.adjust("A", "S1", 5, "receipt")
    results = await replay(api, sale("e1", 2), void("v2", 3, "e1"), void("v3", 4, "v2"))
    assert [r["status"] for r in results] == ["applied", "applied", "conflict"]
    assert (await row(api))["on_hand"] == 5


async def test_void_of_a_return(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 2, "receipt")
    await replay(api, sale("r1", 1, 2, kind="return"), void("v1", 2, "r1"))
    assert (await row(api))["on_hand"] == 2


async def test_batch_rules(api: Api) -> None:
    r = await api.call("POST", URL, "pos", json={"events": [sale("e1", 2), sale("e2", 1)]})
    assert field_of(assert_problem(r, 422)) == "events[1].device_seq"
    r = await api.call("POST", URL, "pos", json={"events": [{**sale("e1", 1), "type": "theft"}]})
    assert_problem(r, 422)
    r = await api.call("POST", URL, "pos", json={"events": [sale(f"e{i}", i) for i in range(501)]})
    assert field_of(assert_problem(r, 422)) == "events"
    other_store = {**sale("e1", 1), "location": "S2"}
    r = await api.call("POST", URL, "pos", json={"events": [other_store]})
    assert field_of(assert_problem(r, 422)) == "events[0].location"  # till-1 is at S1
    assert_problem(await api.call("POST", URL, "reader", json={"events": [sale("e1", 1)]}), 403)


async def test_a_register_key_cannot_reach_another_stores_register(api: Api) -> None:
    """Finding 3: the S1 register key voided a sale made at S2 through S2's device id, and
    S2's on hand went back up. Devices are registered to a store now."""
    r = await api.call("PUT", "/v1/pos/devices/till-2", "admin", json={"location": "S2"})
    assert r.status_code == 201, r.text
    await api.engine.stock.adjust("A", "S2", 5, "receipt")
    at_s2 = {**sale("s2-sale", 1), "location": "S2"}
    assert (
        await api.call("POST", "/v1/pos/till-2/events", "admin", json={"events": [at_s2]})
    ).status_code == 200
    r = await api.call(
        "POST", "/v1/pos/till-2/events", "pos", json={"events": [void("v1", 2, "s2-sale")]}
    )
    assert_problem(r, 403, "location-not-allowed")
    assert (await api.engine.availability.position("A", "S2")).on_hand == 4
    r = await api.call("PUT", "/v1/pos/devices/till-9", "pos", json={"location": "S2"})
    assert_problem(r, 403, "location-not-allowed")  # nor register a device at S2
    r = await api.call("PUT", "/v1/pos/devices/till-2", "admin", json={"location": "S1"})
    assert_problem(r, 409, "device-registered-elsewhere")


async def test_an_unregistered_register_is_refused_saying_how_to_register(api: Api) -> None:
    r = await api.call("POST", "/v1/pos/till-x/events", "pos", json={"events": [sale("e1", 1)]})
    body = assert_problem(r, 403, "device-not-registered")
    assert "PUT /v1/pos/devices/till-x" in body["detail"]
    r = await api.call("POST", "/v1/pos/bad{id}/events", "pos", json={"events": [sale("e1", 1)]})
    assert field_of(assert_problem(r, 422)) == "device_id"


async def test_an_online_key_cannot_sell_at_the_counter(api: Api) -> None:
    r = await api.call("POST", URL, "stock", json={"events": [sale("e1", 1)]})
    assert_problem(r, 403, "channel-not-allowed")


async def test_a_count_settles_an_oversell(api: Api) -> None:
    """The count is the truth after a register sold what the ledger did not have."""
    await api.engine.stock.adjust("A", "S1", 1, "receipt")
    await replay(api, sale("e1", 1, 3))
    assert (await row(api))["oversold"] == 2
    counted = await api.engine.stock.set_on_hand("A", "S1", 4, reason="cycle_count")
    assert counted.ok
    current = await row(api)
    assert current["on_hand"] == 4 and current["oversold"] == 0
