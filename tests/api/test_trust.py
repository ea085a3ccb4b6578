"""Issue 10's findings, each reproduced through the API: acknowledged writes survive a
Redis loss, keys and answers survive it, and every key stays in its lane."""

import asyncio
from typing import Any

import asyncpg

from api.instance import alive
from durability.limits import LOCK_INSTANCE_CLASS
from reservations.model import State, TransitionResult
from support.harness import Api, assert_problem, field_of

REBUILD_WAIT_S = 10.0
ADJUST = "/v1/stock/adjustments"


def sale(eid: str, seq: int, qty: int = 1) -> dict[str, Any]:
    return {
        "type": "sale",
        "event_id": eid,
        "device_seq": seq,
        "occurred_at": "2026-12-03T10:00:00Z",
        "sku": "A",
        "location": "S1",
        "qty": qty,
    }


async def lose_redis(api: Api) -> None:
    """Redis comes back empty: the engine notices, rebuilds from PostgreSQL, serves again."""
    rebuilds = api.services.durability.rebuilds
    await api.engine.redis.command("FLUSHDB")
    for _ in range(int(REBUILD_WAIT_S / 0.02)):
        if api.services.durability.rebuilds > rebuilds and api.services.ledger_ready:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the ledger was not rebuilt")


async def on_hand(api: Api, location: str = "S1") -> int:
    return (await api.engine.availability.position("A", location)).on_hand


async def test_register_sales_are_journaled_before_the_answer(api: Api) -> None:
    """Finding 1: 40 of 40 register sales were missing from the journal right after 200."""
    await api.engine.stock.adjust("A", "S1", 50, "receipt")
    events = [sale(f"e{i}", i) for i in range(1, 41)]
    r = await api.call("POST", "/v1/pos/till-1/events", "pos", json={"events": events})
    assert r.status_code == 200, r.text
    journaled = await api.services.pool.fetchval(
        "SELECT count(*) FROM ledger_events WHERE type = 'adjusted' AND reason LIKE 'pos_sale:%'"
    )
    assert journaled == 40


async def test_a_register_replay_after_a_redis_loss_applies_nothing_twice(api: Api) -> None:
    """Findings 1 and 2: a return acknowledged at a store was lost with Redis, and a replay
    of an applied sale took the units a second time (a phantom oversell)."""
    await api.engine.stock.adjust("A", "S1", 5, "receipt")
    batch = {"events": [sale("e1", 1, 2), {**sale("e2", 2), "type": "return"}]}
    assert (await api.call("POST", "/v1/pos/till-1/events", "pos", json=batch)).status_code == 200
    assert await on_hand(api) == 4
    await lose_redis(api)
    assert await on_hand(api) == 4  # the return survived
    r = await api.call("POST", "/v1/pos/till-1/events", "pos", json=batch)
    assert [e["status"] for e in r.json()["results"]] == ["duplicate", "duplicate"]
    assert await on_hand(api) == 4
    row = (await api.call("GET", "/v1/availability/A?location=S1", "reader")).json()["rows"][0]
    assert row["oversold"] == 0


async def test_keys_and_answers_survive_a_redis_loss(api: Api) -> None:
    """Findings 6 and 11: after a rebuild every key answered 401, finished reservations 404,
    and an adjustment retried with the same Idempotency-Key was applied again."""
    headers = {"Idempotency-Key": "adj-1"}
    body = {"sku": "A", "location": "S1", "delta": 3, "reason": "receipt"}
    first = await api.call("POST", ADJUST, "stock", json=body, headers=headers)
    assert first.status_code == 200
    hold = {
        "id": "r-done",
        "channel": "online",
        "lines": [{"sku": "A", "location": "S1", "qty": 1}],
    }
    assert (await api.call("POST", "/v1/reservations", "oms", json=hold)).status_code == 201
    assert (await api.call("POST", "/v1/reservations/r-done/commit", "oms")).status_code == 200
    assert (await api.call("POST", "/v1/reservations/r-done/fulfill", "oms")).status_code == 200
    await lose_redis(api)
    again = await api.call("POST", ADJUST, "stock", json=body, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await on_hand(api) == 2  # 3 received, 1 shipped: once each
    done = await api.call("GET", "/v1/reservations/r-done", "oms")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "fulfilled" and done.json()["lines"][0]["fulfilled"] == 1
    assert (await api.call("GET", "/v1/reservations/r-done", "pos")).status_code == 200  # S1's


async def test_a_storefront_key_cannot_take_safety_stock_as_the_counter(api: Api) -> None:
    """Finding 4: the channel was whatever the caller sent."""
    await api.engine.stock.adjust("A", "S1", 1, "receipt")
    await api.engine.stock.set_safety("A", "S1", 1)
    hold = {"channel": "store", "lines": [{"sku": "A", "location": "S1", "qty": 1}]}
    r = await api.call("POST", "/v1/reservations", "oms", json=hold)
    body = assert_problem(r, 403, "channel-not-allowed")
    assert "online" in body["detail"]
    assert (await api.engine.availability.position("A", "S1")).reserved == 0
    assert (await api.call("POST", "/v1/reservations", "pos", json=hold)).status_code == 201


async def test_a_store_key_neither_reads_nor_lists_another_stores_reservations(api: Api) -> None:
    """Finding 5."""
    for rid, location in (("r-1", "S1"), ("r-2", "S2")):
        await api.engine.stock.adjust("A", location, 2, "receipt")
        line = {"sku": "A", "location": location, "qty": 1}
        hold = {"id": rid, "channel": "online", "lines": [line]}
        assert (await api.call("POST", "/v1/reservations", "oms", json=hold)).status_code == 201
    assert_problem(
        await api.call("GET", "/v1/reservations/r-2", "pos"), 403, "location-not-allowed"
    )
    listed = (await api.call("GET", "/v1/reservations", "pos")).json()["items"]
    assert [r["id"] for r in listed] == ["r-1"]
    everything = (await api.call("GET", "/v1/reservations", "oms")).json()["items"]
    assert sorted(r["id"] for r in everything) == ["r-1", "r-2"]


async def test_ids_with_a_slash_are_refused_alike_in_body_and_path(api: Api) -> None:
    """Finding 8: an id with "/" was accepted on create, then unreachable by every path
    route; the body and the path worded the id rule differently."""
    line = {"sku": "A", "location": "S1", "qty": 1}
    hold = {"id": "a/b", "channel": "online", "lines": [line]}
    in_body = assert_problem(await api.call("POST", "/v1/reservations", "oms", json=hold), 422)
    assert field_of(in_body) == "id"
    count = {"on_hand": 1, "reason": "count"}
    in_path = assert_problem(await api.call("PUT", "/v1/stock/A/S:1", "stock", json=count), 422)
    assert field_of(in_path) == "location"
    assert in_body["errors"][0]["message"] == in_path["errors"][0]["message"]
    assert "/" not in in_body["errors"][0]["message"]


async def test_a_lost_postgresql_answers_503_and_the_retry_applies_once(api: Api) -> None:
    """Finding 14: PostgreSQL going away answered 500 (AdminShutdownError), though the write
    had taken effect."""
    body = {"sku": "A", "location": "S1", "delta": 4, "reason": "receipt"}
    headers = {"Idempotency-Key": "pg-gone"}
    await api.services.pool.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    statuses = []
    for _ in range(20):
        r = await api.call("POST", ADJUST, "stock", json=body, headers=headers)
        statuses.append(r.status_code)
        if r.status_code == 200:
            break
        assert_problem(r, 503, "unavailable")
        assert r.headers["retry-after"]
        await asyncio.sleep(0.1)
    assert statuses[-1] == 200 and 500 not in statuses, statuses
    assert await on_hand(api) == 4


async def test_the_claim_of_a_dead_worker_is_released_at_once(api: Api, pool: asyncpg.Pool) -> None:
    """Finding 15: a request in flight on a dead worker blocked its retries with 409 for
    about 60 s. A claim whose owner's instance lock is gone is taken over; one whose owner
    lives is still in flight."""
    key_id = api.keys["stock"].split("_")[1]
    body = {"sku": "A", "location": "S1", "delta": 1, "reason": "receipt"}
    first = await api.call("POST", ADJUST, "stock", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 200
    dead_owner, live_owner = 7, 8
    async with pool.acquire() as conn:
        assert not await alive(conn, dead_owner)
        await conn.execute(
            "UPDATE idempotency_records SET pending = true, owner = $2 WHERE key_id = $1",
            key_id,
            dead_owner,
        )
    r = await api.call("POST", ADJUST, "stock", json=body, headers={"Idempotency-Key": "k1"})
    assert r.status_code == 200 and r.json()["result"] == "duplicate"  # ran again, once
    holder = await asyncpg.connect(api.services.settings.pg_dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock($1, $2)", LOCK_INSTANCE_CLASS, live_owner)
        await pool.execute(
            "UPDATE idempotency_records SET pending = true, owner = $2 WHERE key_id = $1",
            key_id,
            live_owner,
        )
        r = await api.call("POST", ADJUST, "stock", json=body, headers={"Idempotency-Key": "k1"})
        assert_problem(r, 409, "request-in-flight")
    finally:
        await holder.close()
    assert await on_hand(api) == 1


async def test_answers_released_together_are_stored_by_one_statement(api: Api) -> None:
    """The group commit releases concurrent writes at once; their idempotent answers go
    to PostgreSQL as one UPDATE (api/idempotency.py AnswerBatch), and each retry still
    gets its own first answer."""
    batch = api.services.idempotency._answers
    writes = 0
    real_write = batch._write

    async def counted(answers: Any) -> None:
        nonlocal writes
        writes += 1
        await real_write(answers)

    batch._write = counted  # type: ignore[method-assign]
    holds = 12

    async def hold(i: int) -> Any:
        body = {"channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": 1}]}
        headers = {"Idempotency-Key": f"hold-{i}"}
        return await api.call("POST", "/v1/reservations", "oms", json=body, headers=headers)

    await api.call(
        "POST",
        ADJUST,
        "stock",
        json={"sku": "A", "location": "S1", "delta": 50, "reason": "receipt"},
    )
    writes = 0
    first = await asyncio.gather(*(hold(i) for i in range(holds)))
    assert [r.status_code for r in first] == [201] * holds
    assert writes < holds  # answers shared statements
    again = await asyncio.gather(*(hold(i) for i in range(holds)))
    assert all(r.headers["idempotent-replayed"] == "true" for r in again)
    assert [r.json()["id"] for r in again] == [r.json()["id"] for r in first]


async def test_a_settle_retried_after_a_rebuild_answers_as_before(api: Api) -> None:
    """Issue 17 finding: a fulfill whose answer was lost (its worker died before the
    Idempotency-Key's record was stored) and retried after a rebuild answered 404, since a
    rebuild restores live reservations only. The journal now answers it, by the engine's
    own rule (durability/history.py settle_from_journal)."""
    hold = {
        "id": "r-shipped",
        "channel": "online",
        "lines": [{"sku": "A", "location": "S1", "qty": 1}],
    }
    adjust = {"sku": "A", "location": "S1", "delta": 3, "reason": "receipt"}
    assert (await api.call("POST", ADJUST, "stock", json=adjust)).status_code == 200
    assert (await api.call("POST", "/v1/reservations", "oms", json=hold)).status_code == 201
    assert (await api.call("POST", "/v1/reservations/r-shipped/commit", "oms")).status_code == 200
    # The first try, applied and journaled; its answer never reached the caller.
    first = await api.services.settle("r-shipped", "fulfilled", None, "op-ship")
    assert first.ok
    await api.services.durability.sync()
    await lose_redis(api)
    assert await api.engine.reservations.get("r-shipped") is None  # ended: not restored
    retry = await api.services.settle("r-shipped", "fulfilled", None, "op-ship")
    assert retry.result is TransitionResult.duplicate and retry.reservation is not None
    assert retry.reservation.state is State.fulfilled
    other = await api.services.settle("r-shipped", "fulfilled", None, "op-other")
    assert other.result is TransitionResult.illegal  # as Redis answers an ended one
    released = await api.call("POST", "/v1/reservations/r-shipped/release", "oms")
    assert released.status_code == 200 and released.json()["state"] == "fulfilled"
    unknown = await api.call("POST", "/v1/reservations/r-never/fulfill", "oms")
    assert unknown.status_code == 404
    assert await on_hand(api) == 2  # shipped once
