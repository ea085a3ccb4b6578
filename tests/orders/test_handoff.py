"""Cart handoff (orders/handoff.py, api/routes_handoff.py): an online hold gets a short code,
a register at its store reads it as typed and completes it as a store sale, once; other
stores' keys, ended holds and orders' holds are refused; a completion whose process died
between its steps is finished by resume_stale, never applied twice."""

import asyncio
import itertools
import re
from typing import Any

import pytest

from api.auth import Scope
from api.keystore import create_key
from orders import handoff
from orders.handoff_code import (
    ALPHABET,
    CODE_LENGTH,
    CodeState,
    HandoffResult,
    display,
    generate,
    normalise,
)
from reservations.model import State
from support.harness import Api, assert_problem, field_of

SHOWN = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def typed(code: str) -> str:
    """As an associate types it: lower case, no dash."""
    return code.replace("-", "").lower()


async def _hold(api: Api, rid: str, lines: list[tuple[str, int]], ttl_s: int = 900) -> None:
    for location, _ in lines:
        await api.engine.stock.adjust("A", location, 10, "receipt")
    body = {
        "id": rid,
        "channel": "online",
        "ttl_seconds": ttl_s,
        "lines": [{"sku": "A", "location": loc, "qty": qty} for loc, qty in lines],
    }
    r = await api.call("POST", "/v1/reservations", "oms", json=body)
    assert r.status_code == 201, r.text


async def _code(api: Api, rid: str) -> str:
    r = await api.call("POST", f"/v1/reservations/{rid}/handoff", "oms")
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


async def _s1(api: Api) -> tuple[int, int]:
    p = await api.engine.availability.position("A", "S1")
    return p.on_hand, p.reserved


async def _row(api: Api, code: str) -> Any:
    sql = "SELECT * FROM handoff_codes WHERE code = $1"
    return await api.services.pool.fetchrow(sql, normalise(code))


def test_codes_are_short_unambiguous_and_read_back_in_any_case() -> None:
    codes = {generate() for _ in range(1000)}  # 30**8 codes: a repeat here is a broken source
    assert len(codes) == 1000
    for code in codes:
        assert len(code) == CODE_LENGTH and not set(code) & set("01OILU")
        shown = display(code)
        assert SHOWN.match(shown)
        for form in (shown, shown.lower(), code.lower(), f" {shown} "):
            assert normalise(form) == code
    for bad in ("K7QX-3M9", "K7QX-3M9O", "K7QX-3M9P2", "K7QX_3M9P", "x" * 40):
        with pytest.raises(Exception, match="code"):
            normalise(bad)


async def test_a_register_completes_an_online_hold_by_code(api: Api) -> None:
    await _hold(api, "r1", [("S1", 3)])
    r = await api.call("POST", "/v1/reservations/r1/handoff", "oms")
    assert r.status_code == 201, r.text
    made = r.json()
    assert SHOWN.match(made["code"]) and made["location"] == "S1" and made["state"] == "open"
    assert made["reservation_id"] == "r1"
    assert made["expires_at"] == made["reservation"]["expires_at"]
    again = await api.call("POST", "/v1/reservations/r1/handoff", "oms")
    assert again.status_code == 200 and again.json()["code"] == made["code"]

    code = typed(made["code"])
    read = await api.call("GET", f"/v1/handoff/{code}", "pos")
    assert read.status_code == 200, read.text
    assert read.json()["state"] == "open"
    assert read.json()["reservation"]["lines"][0] == {
        "sku": "A", "location": "S1", "qty": 3, "open": 3, "fulfilled": 0, "released": 0,
        "expired": 0,
    }  # fmt: skip
    assert await _s1(api) == (10, 3)

    path = f"/v1/handoff/{code}/complete"
    done = await api.call("POST", path, "pos", headers={"Idempotency-Key": "till-sale-1"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["state"] == "completed" and body["completed_at"] and body["completed_by"]
    assert body["reservation"]["state"] == "fulfilled"
    assert await _s1(api) == (7, 0)  # the units left on hand and reserved

    retried = await api.call("POST", path, "pos")  # a second press, no key: the same answer
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "completed"
    assert retried.json()["completed_at"] == body["completed_at"]
    replayed = await api.call("POST", path, "pos", headers={"Idempotency-Key": "till-sale-1"})
    assert replayed.status_code == 200 and replayed.headers["idempotent-replayed"] == "true"
    assert await _s1(api) == (7, 0)  # not applied twice
    after = await api.call("GET", f"/v1/handoff/{made['code']}", "pos")
    assert after.status_code == 200 and after.json()["state"] == "completed"


async def test_only_a_counter_at_the_codes_store_reads_or_completes_it(api: Api) -> None:
    await _hold(api, "r1", [("S1", 2)])
    code = typed(await _code(api, "r1"))
    async with api.services.pool.acquire() as conn:
        scopes = [Scope.reservations_write, Scope.stock_write]
        _, other = await create_key(conn, scopes, ["S2"], "register at S2")
    headers = {"Authorization": f"Bearer {other}"}
    for method, path in (("GET", f"/v1/handoff/{code}"), ("POST", f"/v1/handoff/{code}/complete")):
        r = await api.client.request(method, path, headers=headers)
        assert_problem(r, 403, "location-not-allowed")
        r = await api.call(method, path, "oms")  # an online caller is not a counter
        assert_problem(r, 403, "channel-not-allowed")
    assert await _s1(api) == (10, 2)
    r = await api.client.request("POST", "/v1/reservations/r1/handoff", headers=headers)
    assert_problem(r, 403, "location-not-allowed")


async def test_a_code_is_refused_for_holds_it_cannot_complete(api: Api) -> None:
    await _hold(api, "r2", [("S1", 1), ("S2", 1)])
    r = await api.call("POST", "/v1/reservations/r2/handoff", "oms")
    body = assert_problem(r, 409, "handoff-several-locations")
    assert "S1, S2" in body["detail"]
    assert_problem(await api.call("POST", "/v1/reservations/nope/handoff"), 404)

    await _hold(api, "r3", [("S1", 1)])
    assert (await api.engine.reservations.commit("r3")).ok
    r = await api.call("POST", "/v1/reservations/r3/handoff", "oms")
    assert assert_problem(r, 409, "reservation-not-held")["state"] == "committed"

    await _hold(api, "r4", [("S1", 1)])
    await api.services.pool.execute(
        "INSERT INTO orders (id, channel, method, location, reservation_id, digest, state,"
        " order_received_at) VALUES ('o-4', 'online', 'pickup', 'S1', 'r4', 'd', 'held', now())"
    )
    assert_problem(await api.call("POST", "/v1/reservations/r4/handoff"), 409, "order-reservation")
    count = await api.services.pool.fetchval("SELECT count(*) FROM handoff_codes")
    assert count == 0  # nothing stored on a refusal


async def test_unknown_and_malformed_codes(api: Api) -> None:
    assert_problem(await api.call("GET", "/v1/handoff/K7QX-3M9P", "pos"), 404, "handoff-not-found")
    r = await api.call("POST", "/v1/handoff/k7qx3m9p/complete", "pos")
    assert_problem(r, 404, "handoff-not-found")
    r = await api.call("GET", "/v1/handoff/K7QX-3M9O", "pos")  # O is not in the alphabet
    assert field_of(assert_problem(r, 422, "invalid-input")) == "code"


async def test_an_expired_hold_takes_its_code_with_it(api: Api) -> None:
    await _hold(api, "r1", [("S1", 2)], ttl_s=60)
    code = typed(await _code(api, "r1"))
    api.clock.advance(61_000)
    assert_problem(await api.call("GET", f"/v1/handoff/{code}", "pos"), 410, "handoff-expired")
    r = await api.call("POST", f"/v1/handoff/{code}/complete", "pos")
    assert_problem(r, 409, "hold-expired")
    assert (await _s1(api))[0] == 10
    row = await _row(api, code)
    assert row["completed_at"] is None and row["pending_since"] is None
    await _hold(api, "r5", [("S1", 1)], ttl_s=60)
    api.clock.advance(61_000)
    assert_problem(
        await api.call("POST", "/v1/reservations/r5/handoff", "oms"), 409, "hold-expired"
    )


async def test_an_extended_hold_moves_its_codes_expiry(api: Api) -> None:
    await _hold(api, "r1", [("S1", 1)], ttl_s=60)
    first = (await api.call("POST", "/v1/reservations/r1/handoff", "oms")).json()
    r = await api.call("POST", "/v1/reservations/r1/extend", "oms", json={"ttl_seconds": 600})
    assert r.status_code == 200, r.text
    again = (await api.call("POST", "/v1/reservations/r1/handoff", "oms")).json()
    assert again["code"] == first["code"] and again["expires_at"] == r.json()["expires_at"]


async def test_a_taken_code_is_drawn_again_within_its_bound(api: Api) -> None:
    engine, pool = api.engine, api.services.pool
    await _hold(api, "r1", [("S1", 1)])
    await _hold(api, "r2", [("S1", 1)])
    await _hold(api, "r3", [("S1", 1)])
    made = await handoff.create(pool, engine, "r1", "t", new_code=lambda: "AAAA2222")
    assert made.result is HandoffResult.created
    draws = iter(["AAAA2222", "AAAA2222", "BBBB3333"])
    second = await handoff.create(pool, engine, "r2", "t", new_code=lambda: next(draws))
    assert second.handoff is not None and second.handoff.code == "BBBB3333"
    stuck = await handoff.create(pool, engine, "r3", "t", new_code=lambda: "AAAA2222")
    assert stuck.result is HandoffResult.codes_exhausted


# -- a process dying between the steps of a completion ---------------------------------


async def _begun(api: Api, rid: str = "r1", ttl_s: int = 900) -> str:
    await _hold(api, rid, [("S1", 3)], ttl_s)
    code = normalise(await _code(api, rid))
    begun = await handoff.begin_completion(api.services.pool, api.engine, code, "till")
    assert isinstance(begun, handoff.Handoff) and begun.pending_since is not None
    return code


async def _resume(api: Api, older_than_s: float = 0.0) -> int:
    s = api.services
    return await handoff.resume_stale(s.pool, s.engine, s.durability, older_than_s)


async def test_resume_finishes_a_completion_that_died_before_the_ledger(api: Api) -> None:
    code = await _begun(api)
    assert await _resume(api, older_than_s=3600) == 0  # within its grace: left alone
    r = await api.call("GET", f"/v1/handoff/{code}", "pos")
    assert r.json()["state"] == CodeState.completing
    assert await _resume(api) == 1
    row = await _row(api, code)
    assert row["completed_at"] is not None and row["pending_since"] is None
    assert row["completed_by"] == "till"
    assert (await api.engine.reservations.get("r1")).state is State.fulfilled  # type: ignore[union-attr]
    assert await _s1(api) == (7, 0)
    assert await _resume(api) == 0
    r = await api.call("POST", f"/v1/handoff/{code}/complete", "pos")
    assert r.status_code == 200 and r.json()["state"] == "completed"
    assert await _s1(api) == (7, 0)


async def test_resume_records_a_completion_that_died_after_the_ledger(api: Api) -> None:
    code = await _begun(api)
    reservations = api.engine.reservations
    assert (await reservations.commit("r1")).ok  # the ledger steps ran, then the process died
    assert (await reservations.fulfill("r1", None, handoff.op_id(code))).ok
    assert await _s1(api) == (7, 0)
    assert await _resume(api) == 1
    row = await _row(api, code)
    assert row["completed_at"] is not None and row["pending_since"] is None
    assert await _s1(api) == (7, 0)  # the fulfillment was not applied twice


async def test_a_second_press_finishes_a_begun_completion(api: Api) -> None:
    code = await _begun(api)
    reservations = api.engine.reservations
    assert (await reservations.commit("r1")).ok  # died between commit and fulfill
    r = await api.call("POST", f"/v1/handoff/{code}/complete", "pos")
    assert r.status_code == 200 and r.json()["state"] == "completed", r.text
    assert await _s1(api) == (7, 0)
    assert await _resume(api) == 0


async def test_a_ledger_failure_leaves_the_completion_begun_for_the_sweep(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _hold(api, "r1", [("S1", 3)])
    code = await _code(api, "r1")
    calls = itertools.count()
    fulfill = api.engine.reservations.fulfill

    async def failing_once(*args: Any, **kw: Any) -> Any:
        if next(calls) == 0:
            raise ConnectionError("redis went away")
        return await fulfill(*args, **kw)

    monkeypatch.setattr(api.engine.reservations, "fulfill", failing_once)
    s = api.services
    with pytest.raises(ConnectionError):
        await handoff.complete(s.pool, s.engine, s.durability, code, "till")
    assert (await _row(api, code))["pending_since"] is not None
    assert await _s1(api) == (10, 3)
    assert await _resume(api) == 1
    assert (await _row(api, code))["completed_at"] is not None
    assert await _s1(api) == (7, 0)


async def test_resume_lets_go_of_a_completion_whose_hold_expired_first(api: Api) -> None:
    code = await _begun(api, ttl_s=60)
    api.clock.advance(61_000)
    assert await _resume(api) == 1
    row = await _row(api, code)
    assert row["completed_at"] is None and row["pending_since"] is None
    assert (await api.engine.reservations.get("r1")).state is State.expired  # type: ignore[union-attr]
    assert await _s1(api) == (10, 0)
    assert_problem(await api.call("GET", f"/v1/handoff/{code}", "pos"), 410, "handoff-expired")


async def test_two_associates_pressing_complete_at_once_sell_it_once(api: Api) -> None:
    await _hold(api, "r1", [("S1", 3)])
    path = f"/v1/handoff/{typed(await _code(api, 'r1'))}/complete"
    first, second = await asyncio.gather(
        api.call("POST", path, "pos"), api.call("POST", path, "admin")
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json()["completed_at"] == second.json()["completed_at"]
    assert await _s1(api) == (7, 0)
