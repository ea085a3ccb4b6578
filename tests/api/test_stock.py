"""Stock writes and Idempotency-Key."""

import asyncio
import datetime

from api import idempotency
from support.harness import Api, assert_problem, field_of

ADJUST = "/v1/stock/adjustments"


def receipt(delta: int = 5) -> dict[str, object]:
    return {"sku": "A", "location": "S1", "delta": delta, "reason": "receipt"}


async def test_adjust_and_refuse_negative(api: Api) -> None:
    r = await api.call("POST", ADJUST, "stock", json=receipt())
    body = r.json()
    assert r.status_code == 200 and body["result"] == "applied" and body["event_id"]
    assert body["position"]["on_hand"] == 5
    r = await api.call("POST", ADJUST, "stock", json={**receipt(-6), "reason": "damage"})
    problem = assert_problem(r, 409, "negative-on-hand")
    assert problem["position"]["on_hand"] == 5


async def test_count_with_expected_and_below_reserved(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 5, "receipt")
    from reservations.model import Line

    await api.engine.reservations.reserve("r1", "online", [Line("A", "S1", 4)])
    r = await api.call(
        "PUT",
        "/v1/stock/A/S1",
        "stock",
        json={"on_hand": 2, "expected_on_hand": 4, "reason": "cycle"},
    )
    assert_problem(r, 409, "expected-mismatch")
    r = await api.call(
        "PUT",
        "/v1/stock/A/S1",
        "stock",
        json={"on_hand": 2, "expected_on_hand": 5, "reason": "cycle"},
    )
    assert r.status_code == 200
    assert r.json()["position"]["short"] == 2  # 4 reserved, 2 on hand: accepted, flagged
    r = await api.call("GET", "/v1/availability/A?location=S1", "reader")
    assert r.json()["rows"][0]["short"] == 2
    r = await api.call("PUT", "/v1/stock/A/S1", "stock", json={"on_hand": -1, "reason": "cycle"})
    assert field_of(assert_problem(r, 422)) == "on_hand"
    r = await api.call("PUT", "/v1/stock/A/S1", "stock", json={"on_hand": 1})
    assert field_of(assert_problem(r, 422)) == "reason"


async def test_safety(api: Api) -> None:
    r = await api.call("PUT", "/v1/stock/A/S1/safety", "stock", json={"safety": 2})
    assert r.status_code == 200 and r.json()["position"]["safety"] == 2
    r = await api.call("PUT", "/v1/stock/A/S1/safety", "stock", json={"safety": -2})
    assert field_of(assert_problem(r, 422)) == "safety"


async def test_incoming_with_derived_and_given_supply_ids(api: Api) -> None:
    body = {"sku": "A", "location": "S1", "qty": 7, "expected_at": "2030-01-02"}
    r = await api.call("POST", "/v1/stock/incoming", "stock", json=body)
    assert r.status_code == 200 and r.json()["position"]["incoming"] == 7
    derived = r.json()["supply_id"]  # what receive, cancel and redate name
    r = await api.call("POST", "/v1/stock/incoming", "stock", json=body)  # same body: same supply
    assert r.json()["result"] == "duplicate" and r.json()["position"]["incoming"] == 7
    assert r.json()["supply_id"] == derived
    given = {**body, "supply_id": "po-9"}
    r = await api.call("POST", "/v1/stock/incoming", "stock", json=given)
    assert r.json()["position"]["incoming"] == 14 and r.json()["supply_id"] == "po-9"
    receive = {"sku": "A", "location": "S1", "qty": 2}
    r = await api.call("POST", f"/v1/stock/incoming/{derived}/receive", "stock", json=receive)
    assert r.status_code == 200 and r.json()["remaining"] == 5
    r = await api.call("POST", "/v1/stock/incoming", "stock", json={**given, "qty": 8})
    assert_problem(r, 409, "supply-conflict")
    r = await api.call(
        "POST", "/v1/stock/incoming", "stock", json={**body, "expected_at": "2030-13-01"}
    )
    assert field_of(assert_problem(r, 422)) == "expected_at"
    supplies = await api.engine.availability.promise(
        "A", 14, ["S1"], "online", datetime.date(2029, 1, 1)
    )  # type: ignore[arg-type]
    assert supplies == datetime.date(2030, 1, 2)


async def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    again = await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await api.engine.availability.position("A", "S1")).on_hand == 5
    # key order and spacing do not make it another body
    raw = b'{"reason":"receipt","delta":5,  "location":"S1","sku":"A"}'
    same = await api.call(
        "POST",
        ADJUST,
        "stock",
        content=raw,
        headers={**headers, "content-type": "application/json"},
    )
    assert same.json() == first.json()


async def test_same_key_other_body_is_422(api: Api) -> None:
    headers = {"Idempotency-Key": "k-2"}
    await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    r = await api.call("POST", ADJUST, "stock", json=receipt(6), headers=headers)
    assert_problem(r, 422, "idempotency-key-reused")
    assert (await api.engine.availability.position("A", "S1")).on_hand == 5


async def test_refusals_are_replayed_too(api: Api) -> None:
    headers = {"Idempotency-Key": "k-3"}
    body = {**receipt(-1), "reason": "damage"}
    first = await api.call("POST", ADJUST, "stock", json=body, headers=headers)
    assert_problem(first, 409)
    await api.engine.stock.adjust("A", "S1", 5, "receipt")
    again = await api.call("POST", ADJUST, "stock", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["detail"] == first.json()["detail"]


async def test_keys_are_scoped_to_the_calling_key(api: Api) -> None:
    headers = {"Idempotency-Key": "shared"}
    await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    r = await api.call("POST", ADJUST, "admin", json=receipt(6), headers=headers)
    assert r.status_code == 200 and r.json()["position"]["on_hand"] == 11


async def test_duplicate_in_flight_is_409(api: Api) -> None:
    headers = {"Idempotency-Key": "k-4"}
    kid = api.keys["stock"].split("_")[1]
    body = b'{"sku":"A","location":"S1","delta":5,"reason":"receipt"}'
    digest = idempotency.request_digest("POST", ADJUST, body)
    assert (
        await api.services.idempotency.begin(kid, "k-4", digest) is None
    )  # a first request, running
    r = await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    assert_problem(r, 409, "request-in-flight")
    assert (await api.engine.availability.position("A", "S1")).on_hand == 0


async def test_concurrent_retries_apply_once(api: Api) -> None:
    headers = {"Idempotency-Key": "k-5"}
    replies = await asyncio.gather(
        *(api.call("POST", ADJUST, "stock", json=receipt(), headers=headers) for _ in range(10))
    )
    assert {r.status_code for r in replies} <= {200, 409}
    assert (await api.engine.availability.position("A", "S1")).on_hand == 5


async def test_lost_record_still_applies_once(api: Api) -> None:
    """The ledger's operation id, derived from the key, guards the effect on its own."""
    headers = {"Idempotency-Key": "k-6"}
    await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    await api.services.pool.execute("DELETE FROM idempotency_records")
    r = await api.call("POST", ADJUST, "stock", json=receipt(), headers=headers)
    assert r.json()["result"] == "duplicate"
    assert (await api.engine.availability.position("A", "S1")).on_hand == 5


async def test_bad_idempotency_key_is_422(api: Api) -> None:
    r = await api.call(
        "POST", ADJUST, "stock", json=receipt(), headers={"Idempotency-Key": "x" * 200}
    )
    assert field_of(assert_problem(r, 422)) == "header.Idempotency-Key"


async def test_over_limit_is_409(api: Api) -> None:
    from atp.limits import QTY_MAX

    await api.engine.stock.adjust("A", "S1", QTY_MAX, "receipt")
    assert_problem(await api.call("POST", ADJUST, "stock", json=receipt(1)), 409, "over-limit")
