"""Supply lifecycle over HTTP: receive (all or part), cancel and re-date a supply."""

import datetime

from support.harness import Api, assert_problem, field_of

INCOMING = "/v1/stock/incoming"


async def _supply(api: Api, qty: int = 10, supply_id: str = "po-1") -> None:
    body = {"sku": "A", "location": "S1", "qty": qty, "expected_at": "2030-01-10"}
    r = await api.call("POST", INCOMING, "stock", json={**body, "supply_id": supply_id})
    assert r.status_code == 200, r.text


async def test_receive_part_then_the_rest(api: Api) -> None:
    await _supply(api)
    body = {"sku": "A", "location": "S1", "qty": 4, "reason": "pallet 1"}
    r = await api.call("POST", f"{INCOMING}/po-1/receive", "stock", json=body)
    out = r.json()
    assert r.status_code == 200 and out["result"] == "applied" and out["event_id"]
    assert (out["received"], out["retired"], out["over_received"], out["remaining"]) == (
        4,
        4,
        0,
        6,
    )
    assert (out["position"]["on_hand"], out["position"]["incoming"]) == (4, 6)
    assert out["supply_id"] == "po-1"
    r = await api.call(
        "POST", f"{INCOMING}/po-1/receive", "stock", json={"sku": "A", "location": "S1"}
    )
    assert r.json()["received"] == 6 and r.json()["position"]["incoming"] == 0
    # The supply is gone: a promise no longer counts it.
    today = datetime.date(2029, 12, 1)
    assert await api.engine.availability.promise("A", 11, ["S1"], "online", today) is None  # type: ignore[arg-type]
    r = await api.call(
        "POST", f"{INCOMING}/po-1/receive", "stock", json={"sku": "A", "location": "S1"}
    )
    assert assert_problem(r, 404, "supply-not-found")["position"]["on_hand"] == 10


async def test_over_receipt_is_reported(api: Api) -> None:
    await _supply(api, 5)
    body = {"sku": "A", "location": "S1", "qty": 8}
    r = await api.call("POST", f"{INCOMING}/po-1/receive", "stock", json=body)
    assert r.status_code == 200
    assert (r.json()["received"], r.json()["over_received"], r.json()["remaining"]) == (8, 3, 0)


async def test_a_retried_receipt_with_the_same_key_is_replayed(api: Api) -> None:
    await _supply(api)
    body = {"sku": "A", "location": "S1", "qty": 3}
    headers = {"Idempotency-Key": "rcv-1"}
    first = await api.call("POST", f"{INCOMING}/po-1/receive", "stock", json=body, headers=headers)
    again = await api.call("POST", f"{INCOMING}/po-1/receive", "stock", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    position = await api.engine.availability.position("A", "S1")
    assert (position.on_hand, position.incoming) == (3, 7)


async def test_cancel_and_redate(api: Api) -> None:
    await _supply(api)
    await _supply(api, 2, "po-2")
    ref = {"sku": "A", "location": "S1"}
    r = await api.call(
        "POST", f"{INCOMING}/po-2/redate", "stock", json={**ref, "expected_at": "2030-02-01"}
    )
    assert r.status_code == 200 and r.json()["result"] == "applied" and r.json()["remaining"] == 2
    r = await api.call(
        "POST", f"{INCOMING}/po-2/redate", "stock", json={**ref, "expected_at": "2030-02-01"}
    )
    assert r.json()["result"] == "duplicate" and r.json()["event_id"] is None
    supplies = await api.engine.availability.supplies([("A", "S1")])
    assert {s.supply_id: s.expected_on for s in supplies[("A", "S1")]} == {
        "po-1": datetime.date(2030, 1, 10),
        "po-2": datetime.date(2030, 2, 1),
    }
    r = await api.call("POST", f"{INCOMING}/po-1/cancel", "stock", json=ref)
    assert r.status_code == 200 and r.json()["retired"] == 10
    assert r.json()["position"]["incoming"] == 2 and r.json()["position"]["on_hand"] == 0
    assert_problem(
        await api.call("POST", f"{INCOMING}/po-1/cancel", "stock", json=ref),
        404,
        "supply-not-found",
    )


async def test_bad_bodies_name_their_field(api: Api) -> None:
    await _supply(api)
    url = f"{INCOMING}/po-1/receive"
    r = await api.call("POST", url, "stock", json={"sku": "A", "location": "S1", "qty": 0})
    assert field_of(assert_problem(r, 422)) == "qty"
    r = await api.call("POST", url, "stock", json={"sku": "A", "location": "S1", "quantity": 1})
    assert_problem(r, 422)
    r = await api.call(
        "POST",
        f"{INCOMING}/po-1/redate",
        "stock",
        json={"sku": "A", "location": "S1", "expected_at": "2030-13-01"},
    )
    assert field_of(assert_problem(r, 422)) == "expected_at"


async def test_scope_and_location_are_checked(api: Api) -> None:
    await _supply(api)
    body = {"sku": "A", "location": "S1"}
    assert_problem(await api.call("POST", f"{INCOMING}/po-1/receive", "reader", json=body), 403)
    # The register key is bound to S1: a supply at W1 is not its to receive.
    other = {"sku": "A", "location": "W1"}
    assert_problem(await api.call("POST", f"{INCOMING}/po-1/receive", "pos", json=other), 403)
    r = await api.call("POST", f"{INCOMING}/po-1/receive", "pos", json=body)
    assert r.status_code == 200 and r.json()["received"] == 10
