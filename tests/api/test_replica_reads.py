"""Availability answered from the in-memory replica: the same rows as Redis once caught up,
with as_of and lag_ms; `after` reads a write's own effect; `consistency=strong` and a
replica that is not ready read Redis; /readyz and /metrics report the replica."""

import asyncio
import datetime
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from api import fast
from atp import keys
from atp.clock import ManualClock
from atp.register_events import RegisterEvent, RegisterEventKind
from atp.replica import Replica
from reservations.model import Line
from support.harness import Api, assert_problem, field_of, serving, settings_for

READY_WAIT_S = 10.0
FRESHNESS = ("consistency", "as_of", "lag_ms")


@pytest.fixture
async def live(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    async with serving(settings_for(redis_url, pg_dsn, replica=True), clock) as harness:
        await _until_ready(_replica(harness))
        yield harness


def _replica(api: Api) -> Replica:
    replica = api.services.engine.replica
    assert replica is not None
    return replica


async def _until_ready(replica: Replica) -> None:
    for _ in range(int(READY_WAIT_S / 0.01)):  # the replica announces nothing: poll, bounded
        if replica.ready:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the replica did not load")


def _without_freshness(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in FRESHNESS}


def _stream_id(text: str) -> tuple[int, int]:
    ms, seq = text.split("-")
    return int(ms), int(seq)


async def _write(api: Api, sku: str, location: str, delta: int) -> str:
    r = await api.call(
        "POST",
        "/v1/stock/adjustments",
        "stock",
        {"sku": sku, "location": location, "delta": delta, "reason": "receipt"},
    )
    assert r.status_code == 200, r.text
    event_id: str = r.json()["event_id"]
    return event_id


async def test_a_read_after_a_write_sees_it_and_says_how_fresh(live: Api) -> None:
    event_id = await _write(live, "A", "S1", 5)
    r = await live.call("GET", f"/v1/availability/A?location=S1&after={event_id}", "reader")
    body = r.json()
    assert body["consistency"] == "replica" and body["lag_ms"] >= 0
    assert body["rows"][0]["on_hand"] == 5
    _, ms, seq = event_id.split("-")
    assert _stream_id(body["as_of"]) >= (int(ms), int(seq))
    strong = await live.call("GET", "/v1/availability/A?location=S1&consistency=strong", "reader")
    assert strong.json()["consistency"] == "strong" and "as_of" not in strong.json()
    assert _without_freshness(strong.json()) == _without_freshness(body)


async def test_a_batch_from_the_replica_equals_redis(live: Api) -> None:
    skus = [f"B{i:03d}" for i in range(100)]
    locations = [f"L{j:02d}" for j in range(20)]
    writes = [
        live.engine.stock.adjust(sku, loc, (i * 7 + j) % 9 + 1, "receipt")
        for i, sku in enumerate(skus)
        for j, loc in enumerate(locations)
        if (i + j) % 3
    ]
    outcomes = await asyncio.gather(*writes)
    await live.engine.stock.set_safety("B001", "L01", 2)
    held = await live.engine.reservations.reserve(
        "r1", "online", [_line("B002", "L02", 1), _line("B003", "L04", 2)], 60
    )
    assert held.ok
    last = max(outcomes, key=lambda o: _stream_id(o.event_id.split("-", 1)[1]))
    query = {"skus": skus, "locations": locations, "after": last.event_id}
    replica = await live.call("POST", "/v1/availability/query", "reader", query)
    assert replica.json()["consistency"] == "replica"
    await _caught_up(live)
    replica = await live.call("POST", "/v1/availability/query", "reader", query)
    strong = await live.call(
        "POST", "/v1/availability/query", "reader", {**query, "consistency": "strong"}
    )
    assert len(replica.json()["rows"]) == 2_000
    assert _without_freshness(replica.json()) == _without_freshness(strong.json())


def _line(sku: str, location: str, qty: int) -> Line:
    return Line(sku, location, qty)


async def _caught_up(api: Api) -> None:
    """Waits for the replica to apply everything in the streams now."""
    replica = _replica(api)
    tips = []
    for partition in range(len(replica.cursors)):
        last = await api.engine.redis.command(
            "XREVRANGE", keys.stream(partition), "+", "-", "COUNT", 1
        )
        if last:
            tips.append((partition, last[0][0]))
    assert await replica.caught_up(tips, READY_WAIT_S)


async def test_groups_promises_and_oversells_from_the_replica(live: Api) -> None:
    stock = live.engine.stock
    await stock.adjust("G", "S1", 2, "receipt")
    await stock.adjust("G", "S2", 4, "receipt")
    await stock.add_incoming("G", "S1", "po-1", 10, datetime.date(2030, 1, 5))
    await live.engine.availability.define_group("oslo", ["S1", "S2"])
    sale = RegisterEvent(RegisterEventKind.sale, "e1", 1, 1, "G", "S1", 5)  # 3 beyond what S1 has
    assert (await live.services.registers.replay("till-1", [sale]))[0].oversold == 3
    await _caught_up(live)
    for path in (
        "/v1/availability/G?group=oslo",
        "/v1/availability/G?location=W9&group=oslo",
        "/v1/availability/G/promise?qty=8&group=oslo",
        "/v1/availability/G/promise?qty=20&location=S1&location=S2",
    ):
        replica = (await live.call("GET", path, "reader")).json()
        strong = (await live.call("GET", f"{path}&consistency=strong", "reader")).json()
        assert replica["consistency"] == "replica", path
        assert _without_freshness(replica) == _without_freshness(strong), path
    rows = (await live.call("GET", "/v1/availability/G?group=oslo", "reader")).json()["rows"]
    assert rows[0]["oversold"] == 3 and rows[0]["on_hand"] == 0
    void = RegisterEvent(RegisterEventKind.void, "v1", 2, 2, voids="e1")
    await live.services.registers.replay("till-1", [void])
    await _caught_up(live)
    rows = (await live.call("GET", "/v1/availability/G?location=S1", "reader")).json()["rows"]
    assert rows[0]["oversold"] == 0 and rows[0]["on_hand"] == 2


async def test_strong_when_not_ready_and_readyz_says_so(live: Api) -> None:
    replica = _replica(live)
    ready = await live.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["replica"] is True
    replica.ready = False  # what a reload looks like from outside
    try:
        ready = await live.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["replica"] is False
        r = await live.call("GET", "/v1/availability/A?location=S1", "reader")
        assert r.status_code == 200 and r.json()["consistency"] == "strong"
    finally:
        replica.ready = True


async def test_bad_consistency_or_after_names_the_parameter(live: Api) -> None:
    r = await live.call("GET", "/v1/availability/A?location=S1&consistency=eventual", "reader")
    assert field_of(assert_problem(r, 422)) == "consistency"
    for after in ("yesterday", "99-1-0", "1-2"):
        r = await live.call("GET", f"/v1/availability/A?location=S1&after={after}", "reader")
        assert field_of(assert_problem(r, 422)) == "after"
        strong = f"/v1/availability/A?location=S1&after={after}&consistency=strong"
        assert field_of(assert_problem(await live.call("GET", strong, "reader"), 422)) == "after"
    r = await live.call(
        "POST",
        "/v1/availability/query",
        "reader",
        {"skus": ["A"], "locations": ["S1"], "consistency": "eventual"},
    )
    assert field_of(assert_problem(r, 422)) == "consistency"


async def test_the_lag_is_a_prometheus_gauge(live: Api) -> None:
    await asyncio.sleep(1.2)  # exported once a second
    text = (await live.client.get("/metrics")).text
    assert re.search(r"^atp_replica_lag_seconds(\{[^}]*\})? \S+$", text, re.MULTILINE)
    assert re.search(r"^atp_replica_ready(\{[^}]*\})? 1\.0$", text, re.MULTILINE)


async def test_the_raw_fast_path_answers_exactly_as_the_general_path(
    live: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await live.engine.stock.adjust("F", "S1", 4, "receipt")
    await live.engine.stock.set_safety("F", "S2", 1)
    await _caught_up(live)
    paths = [
        "/v1/availability/F?location=S1",
        "/v1/availability/F?location=S1&location=S2&channel=store",
        "/v1/availability/F?location=S2&consistency=replica&channel=online",
    ]
    fast_answers = [(await live.call("GET", p, "reader")) for p in paths]

    async def general_only(*_: object) -> bool:
        return False

    monkeypatch.setattr(fast, "serve_availability", general_only)
    general_answers = [(await live.call("GET", p, "reader")) for p in paths]
    for f, g in zip(fast_answers, general_answers, strict=True):
        assert f.status_code == g.status_code == 200
        assert f.headers["content-type"] == g.headers["content-type"]
        assert _without_freshness(f.json()) == _without_freshness(g.json())
        assert f.json()["consistency"] == "replica" and "x-request-id" in f.headers


async def test_what_the_fast_path_declines_gets_the_general_answer(live: Api) -> None:
    ok = "/v1/availability/F?location=S1"
    r = await live.client.get(ok)
    assert_problem(r, 401)
    r = await live.call("GET", ok, "stock")  # a key without availability:read
    assert_problem(r, 403)
    r = await live.call("GET", "/v1/availability/F?location=S1&location=S1", "reader")
    assert field_of(assert_problem(r, 422)) == "location"
    r = await live.call("GET", "/v1/availability/F?location=S%201", "reader")
    assert field_of(assert_problem(r, 422)) == "location"
    r = await live.call("GET", "/v1/availability/F?location=S1&channel=web", "reader")
    assert field_of(assert_problem(r, 422)) == "channel"
    assert fast._query("location=S\xc3\xa9".encode("latin-1")) is None  # raw non-ASCII
    r = await live.call("GET", "/v1/availability/F?location=S1&flavour=x", "reader")
    assert r.status_code == 200  # unknown parameters are ignored, as everywhere
