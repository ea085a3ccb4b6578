"""GET /v1/changes over HTTP: filters, resume with Last-Event-ID or ?after=, reset after a
rebuild, the connection cap, and bad filters named. Streams are bounded with timeout_s
(httpx's ASGI transport hands a body over once it ends)."""

import asyncio
import json
from typing import Any

import pytest

from support.harness import Api, assert_problem, field_of

ADJUST = "/v1/stock/adjustments"


def parse(text: str) -> list[dict[str, Any]]:
    """SSE events: id, event and data (decoded), heartbeats left out."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name in ("id", "event"):
                fields[name] = value
            elif name == "data":
                fields["data"] = json.loads(value)
        if fields:
            events.append(fields)
    return events


@pytest.fixture
async def api(api: Api) -> Api:
    """The API once its sequencer leads: a first start takes the feed from the journal's
    end, so earlier writes would not be in it."""
    feed = api.services.feed
    assert feed is not None
    for _ in range(200):
        if feed.sequencer.leading:
            return api
        await asyncio.sleep(0.01)
    raise AssertionError("the sequencer did not start")


async def receipt(api: Api, sku: str, location: str, delta: int = 5) -> None:
    body = {"sku": sku, "location": location, "delta": delta, "reason": "receipt"}
    r = await api.call("POST", ADJUST, "stock", json=body)
    assert r.status_code == 200, r.text


async def fed(api: Api, count: int) -> None:
    """Waits until the sequencer has appended ``count`` changes in all."""
    for _ in range(200):
        if await api.services.pool.fetchval("SELECT count(*) FROM changes") >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the sequencer did not append the changes")


async def changes(api: Api, query: str, **headers: str) -> list[dict[str, Any]]:
    r = await api.call("GET", f"/v1/changes?timeout_s=0.3&{query}", "reader", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse(r.text)


async def test_a_resumed_stream_gets_every_change_after_its_id_in_order(api: Api) -> None:
    await receipt(api, "A", "S1")
    await receipt(api, "B", "S1")
    await receipt(api, "A", "S2", 2)
    await fed(api, 3 * 5)  # each: the ledger event, changed and back in stock per channel
    everything = await changes(api, "after=0")
    assert [int(e["id"]) for e in everything] == sorted(int(e["id"]) for e in everything)
    assert len({e["id"] for e in everything}) == len(everything) == 15
    a_only = await changes(api, "after=0&sku=A&types=adjusted,back_in_stock")
    assert [(e["event"], e["data"]["location"]) for e in a_only] == [
        ("adjusted", "S1"), ("back_in_stock", "S1"), ("back_in_stock", "S1"),
        ("adjusted", "S2"), ("back_in_stock", "S2"), ("back_in_stock", "S2"),
    ]  # fmt: skip
    assert [e["data"]["channel"] for e in a_only if e["event"] == "back_in_stock"] == [
        "online", "store", "online", "store",
    ]  # fmt: skip
    middle = everything[6]["id"]
    resumed = await changes(api, "", **{"Last-Event-ID": middle})
    assert resumed == everything[7:]
    assert await changes(api, "sku=A") == []  # no id: from now on


async def test_a_client_from_before_a_rebuild_is_told_to_reset(api: Api) -> None:
    await receipt(api, "A", "S1")
    await fed(api, 5)
    await api.services.engine.redis.command("FLUSHDB")  # Redis restarted empty
    for _ in range(300):
        found = await api.services.pool.fetchval("SELECT seq FROM changes WHERE type = 'reset'")
        if found is not None:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("no reset after the rebuild")
    await receipt(api, "A", "S1")
    await fed(api, 9)  # the reset, the ledger event and one change per channel
    after_reset = await changes(api, "after=2")
    assert after_reset[0]["event"] == "reset" and int(after_reset[0]["id"]) == found
    assert after_reset[0]["data"]["reason"] == "ledger_rebuilt"
    assert [e["event"] for e in after_reset[1:]] == ["adjusted", *["availability_changed"] * 2]
    assert after_reset[1]["data"]["on_hand"] == 10  # the rebuilt ledger kept the first


async def test_a_resume_older_than_retention_starts_with_a_reset(api: Api) -> None:
    await receipt(api, "A", "S1")
    await fed(api, 5)
    await api.services.pool.execute("DELETE FROM changes WHERE seq <= 3")
    [reset] = await changes(api, "after=1")
    assert reset["event"] == "reset" and reset["data"]["reason"] == "retention"


async def test_bad_filters_are_named(api: Api) -> None:
    for query, field in (
        ("types=nonsense", "types"),
        ("sku=bad%20id", "sku"),
        ("after=-1", "after"),
        ("timeout_s=0", "timeout_s"),
    ):
        r = await api.call("GET", f"/v1/changes?{query}", "reader")
        assert field_of(assert_problem(r, 422)) == field, query
    r = await api.call("GET", "/v1/changes", "reader", headers={"Last-Event-ID": "x"})
    assert field_of(assert_problem(r, 422)) == "Last-Event-ID"


async def test_the_connection_cap_answers_503_with_retry_after(api: Api) -> None:
    feed = api.services.feed
    assert feed is not None
    feed.connections_max = 0
    r = await api.call("GET", "/v1/changes", "reader")
    assert_problem(r, 503, "too-many-streams")
    assert int(r.headers["Retry-After"]) > 0


async def test_low_stock_thresholds_are_set_per_location_and_listed(api: Api) -> None:
    body = {"sku": "A", "location": "S1", "threshold": 4}
    r = await api.call("PUT", "/v1/low-stock-thresholds", "stock", json=body)
    assert r.status_code == 200, r.text
    both = {**body, "group": "G"}
    r = await api.call("PUT", "/v1/low-stock-thresholds", "stock", json=both)
    assert field_of(assert_problem(r, 422)) == "location"
    r = await api.call("GET", "/v1/low-stock-thresholds?sku=A", "reader")
    assert r.json()["items"] == [{"sku": "A", "threshold": 4, "location": "S1", "group": None}]
    assert r.json()["default"] == 3


async def test_filters_naming_what_the_catalog_lacks_are_refused(api: Api) -> None:
    pool = api.services.pool
    await pool.execute("INSERT INTO skus (id) VALUES ('A')")
    await pool.execute(
        "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone)"
        " VALUES ('S1', 'One', 'store', 59.9, 10.7, 'Europe/Oslo')"
    )
    for query, field in (("sku=Z", "sku"), ("location=S9", "location")):
        r = await api.call("GET", f"/v1/changes?{query}&timeout_s=0.01", "reader")
        problem = assert_problem(r, 422)
        assert field_of(problem) == field and "the catalog has no" in problem["detail"]
    r = await api.call("GET", "/v1/changes?sku=A&location=S1&timeout_s=0.01", "reader")
    assert r.status_code == 200
    r = await api.call("GET", "/v1/changes?group=nowhere&timeout_s=0.01", "reader")
    assert r.status_code == 200  # no group in the catalog: it knows none, refuses none
