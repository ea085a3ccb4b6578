"""What the engine said at an instant (GET /v1/availability/{sku}?at=) and how
(GET /v1/availability/{sku}/explain), from the journal: writes at known times on the
manual clock, each answer recorded live, then asked back at instants between them."""

import datetime
from typing import Any

from support.harness import Api, assert_problem, field_of

AVAIL = "/v1/availability/A"
EXPLAIN = "/v1/availability/A/explain"
STEP_MS = 1_000
FIGURES = ("location", "on_hand", "reserved", "safety", "incoming", "atp", "oversold", "short")


def rfc3339(ms: int) -> str:
    return (
        datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat().replace("+00:00", "Z")
    )


def rows(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(row.get(f, 0) for f in FIGURES) for row in body["rows"]]


async def get(api: Api, path: str, query: str, kind: str = "reader") -> dict[str, Any]:
    r = await api.call("GET", f"{path}?{query}", kind)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def event_ids(api: Api, where: str, *args: object) -> list[str]:
    found = await api.services.pool.fetch(
        "SELECT event_id FROM ledger_events_by_id WHERE sku = 'A' AND location = 'S1' AND "
        + where
        + " ORDER BY stream_ms, stream_seq",
        *args,
    )
    return [str(r["event_id"]) for r in found]


WRITES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "POST",
        "/v1/stock/adjustments",
        {"sku": "A", "location": "S1", "delta": 20, "reason": "receipt"},
    ),
    (
        "POST",
        "/v1/reservations",
        {"id": "r1", "channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": 3}]},
    ),
    (
        "POST",
        "/v1/reservations",
        {"id": "r2", "channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": 2}]},
    ),
    ("PUT", "/v1/stock/A/S1/safety", {"safety": 4}),
    (
        "POST",
        "/v1/stock/incoming",
        {"sku": "A", "location": "S1", "qty": 10, "expected_at": "2030-01-10", "supply_id": "po-1"},
    ),
    ("POST", "/v1/reservations/r1/release", {}),
    ("PUT", "/v1/stock/A/S1", {"on_hand": 18, "reason": "cycle_count"}),
    (
        "POST",
        "/v1/stock/adjustments",
        {"sku": "A", "location": "S1", "delta": -1, "reason": "damage"},
    ),
    ("POST", "/v1/stock/incoming/po-1/receive", {"sku": "A", "location": "S1", "qty": 4}),
]


async def play(api: Api) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Each write at its own instant, with the live answers (online, store) right after."""
    seen = []
    for method, path, body in WRITES:
        api.clock.advance(STEP_MS)
        kind = "oms" if path.startswith("/v1/reservations") else "stock"
        r = await api.call(method, path, kind, json=body)
        assert r.status_code in (200, 201), r.text
        online = await get(api, AVAIL, "location=S1&consistency=strong")
        store = await get(api, AVAIL, "location=S1&consistency=strong&channel=store")
        seen.append((api.clock.now_ms(), online, store))
    return seen


async def test_each_instant_answers_what_the_engine_said_then(api: Api) -> None:
    seen = await play(api)
    for at_ms, online, store in seen:
        for when in (at_ms, at_ms + STEP_MS // 2):  # the write's own instant, then between
            body = await get(api, AVAIL, f"location=S1&at={rfc3339(when)}")
            assert rows(body) == rows(online), (when, body)
            assert body["source"] == "journal" and body["consistency"] == "strong"
            assert body["as_of"] == rfc3339(when)
            body = await get(api, AVAIL, f"location=S1&channel=store&at={rfc3339(when)}")
            assert rows(body) == rows(store) and body["channel"] == "store"
    # A millisecond before the second write: the first write's answer.
    body = await get(api, AVAIL, f"location=S1&at={rfc3339(seen[1][0] - 1)}")
    assert ".999" in body["as_of"] and rows(body) == rows(seen[0][1])
    live = await get(api, AVAIL, "location=S1")
    assert "source" not in live  # without `at`: unchanged


async def test_the_explanation_names_the_reservations_supplies_and_events(api: Api) -> None:
    seen = await play(api)
    # After the second hold: both holds, on hand from the receipt, no safety, no supply.
    body = await get(api, EXPLAIN, f"location=S1&at={rfc3339(seen[2][0] + 500)}")
    assert [(h["reservation_id"], h["units"]) for h in body["reservations"]] == [
        ("r1", 3), ("r2", 2),
    ]  # fmt: skip
    assert body["reservations"][0]["event_ids"] == await event_ids(
        api, "reservation_id = 'r1' AND ts_ms <= $1", seen[2][0]
    )
    [receipt] = body["on_hand_events"]
    assert (receipt["type"], receipt["d_on_hand"], receipt["why"]) == ("adjusted", 20, "receipt")
    assert body["safety_event"] is None and body["supplies"] == []
    assert (body["on_hand"], body["reserved"], body["atp"], body["truncated"]) == (20, 5, 15, False)

    # Before the receipt of po-1: r1 released, counted to 18, one damaged.
    at = rfc3339(seen[7][0] + 500)
    body = await get(api, EXPLAIN, f"location=S1&at={at}")
    [r2] = body["reservations"]
    assert (r2["reservation_id"], r2["units"]) == ("r2", 2)
    assert r2["event_ids"] == await event_ids(api, "reservation_id = 'r2'")
    [safety_id] = await event_ids(api, "type = 'safety_set'")
    assert body["safety_event"]["event_id"] == safety_id and body["safety"] == 4
    [count_id] = await event_ids(api, "type = 'counted'")
    assert body["on_hand_events"][0]["event_id"] == count_id
    assert [e["d_on_hand"] for e in body["on_hand_events"][1:]] == [-1]
    [po] = body["supplies"]
    assert (po["supply_id"], po["qty"], po["expected_on"]) == ("po-1", 10, "2030-01-10")
    assert po["event_ids"] == await event_ids(
        api, "type LIKE 'incoming%' AND ts_ms <= $1", seen[7][0]
    )
    assert (body["on_hand"], body["reserved"], body["safety_held_back"], body["atp"]) == (
        17, 2, 4, 11,
    )  # fmt: skip
    assert body["event_id"] == (await event_ids(api, "ts_ms <= $1", seen[7][0]))[-1]
    store = await get(api, EXPLAIN, f"location=S1&channel=store&at={at}")
    assert (store["safety_held_back"], store["atp"]) == (0, 15)

    # Now (no `at`): po-1 partly received.
    body = await get(api, EXPLAIN, "location=S1")
    [po] = body["supplies"]
    assert po["qty"] == 6 and len(po["event_ids"]) == 2
    assert body["on_hand_events"][-1]["type"] == "incoming_received"


async def test_bounds_of_at(api: Api) -> None:
    seen = await play(api)
    first = seen[0][0]
    r = await api.call("GET", f"{AVAIL}?location=S1&at={rfc3339(first - 1)}", "reader")
    problem = assert_problem(r, 404, "not-journaled")
    assert "no event of A at S1" in problem["detail"] and "its first is at" in problem["detail"]
    r = await api.call("GET", f"{EXPLAIN}?location=S2&at={rfc3339(first)}", "reader")
    assert "it holds none" in assert_problem(r, 404, "not-journaled")["detail"]
    future = rfc3339(api.clock.now_ms() + 60_000)
    skewed = rfc3339(api.clock.now_ms() + 1_000)  # within the skew allowed
    assert (await get(api, AVAIL, f"location=S1&at={skewed}"))["source"] == "journal"
    for query, field in (
        (f"location=S1&at={future}", "at"),
        ("location=S1&at=2027-01-15T08:00:00", "at"),  # no offset
        ("location=S1&at=2027-01-15", "at"),
        ("location=S1&at=yesterday", "at"),
        (f"group=g&at={rfc3339(first)}", "group"),
        (f"at={rfc3339(first)}", "location"),
        (f"location=S1&location=S1&at={rfc3339(first)}", "location"),
    ):
        r = await api.call("GET", f"{AVAIL}?{query}", "reader")
        assert field_of(assert_problem(r, 422, "invalid-input")) == field, query
    for query, field in (("", "location"), ("location=S1&location=S2", "location")):
        r = await api.call("GET", f"{EXPLAIN}?{query}", "reader")
        assert field_of(assert_problem(r, 422, "invalid-input")) == field, query
    r = await api.call("GET", f"{EXPLAIN}?location=S1&at={future}", "reader")
    assert field_of(assert_problem(r, 422, "invalid-input")) == "at"


async def test_explain_needs_availability_read(api: Api) -> None:
    assert_problem(await api.call("GET", f"{EXPLAIN}?location=S1", "stock"), 403, "scope-missing")
