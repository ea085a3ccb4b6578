"""Availability: one SKU, groups, batches, promise dates."""

import datetime

from atp.clock import instant
from atp.limits import BATCH_SKUS_MAX
from support.harness import Api, assert_problem, field_of


async def _stock(api: Api) -> None:
    s = api.engine.stock
    await s.adjust("A", "S1", 10, "receipt")
    await s.set_safety("A", "S1", 3)
    await s.adjust("A", "S2", 4, "receipt")
    await s.adjust("B", "S1", 1, "receipt")
    await api.engine.availability.define_group("oslo", ["S1", "S2"])


async def test_rows_per_location_with_online_safety(api: Api) -> None:
    await _stock(api)
    r = await api.call("GET", "/v1/availability/A?location=S1&location=S2", "reader")
    assert r.status_code == 200
    body = r.json()
    assert body["sku"] == "A" and body["channel"] == "online" and "total" not in body
    s1 = body["rows"][0]
    assert s1 == {
        "sku": "A",
        "location": "S1",
        "on_hand": 10,
        "reserved": 0,
        "safety": 3,
        "incoming": 0,
        "atp": 7,
        "oversold": 0,
        "short": 0,
    }
    r = await api.call("GET", "/v1/availability/A?location=S1&channel=store", "reader")
    assert r.json()["rows"][0]["atp"] == 10


async def test_group_gives_members_and_total(api: Api) -> None:
    await _stock(api)
    r = await api.call("GET", "/v1/availability/A?group=oslo", "reader")
    body = r.json()
    assert [row["location"] for row in body["rows"]] == ["S1", "S2"]
    assert body["total"] == 7 + 4


async def test_locations_and_a_group_together(api: Api) -> None:
    await _stock(api)
    r = await api.call("GET", "/v1/availability/A?location=W9&location=S2&group=oslo", "reader")
    body = r.json()
    assert [row["location"] for row in body["rows"]] == ["W9", "S2", "S1"]
    assert body["total"] == 11  # the group's members only


async def test_location_or_group_errors(api: Api) -> None:
    await _stock(api)
    assert_problem(await api.call("GET", "/v1/availability/A", "reader"), 422)
    r = await api.call("GET", "/v1/availability/A?location=S1&location=S1", "reader")
    assert field_of(assert_problem(r, 422)) == "location"
    r = await api.call("GET", "/v1/availability/A?group=nowhere", "reader")
    assert field_of(assert_problem(r, 422)) == "group"
    r = await api.call("GET", "/v1/availability/A?location=S1&channel=mail", "reader")
    assert field_of(assert_problem(r, 422)) == "channel"


async def test_batch_rows_for_every_sku_and_location(api: Api) -> None:
    await _stock(api)
    body = {"skus": ["A", "B"], "locations": ["S1", "S2"], "channel": "store"}
    r = await api.call("POST", "/v1/availability/query", "reader", json=body)
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert [(x["sku"], x["location"], x["atp"]) for x in rows] == [
        ("A", "S1", 10),
        ("A", "S2", 4),
        ("B", "S1", 1),
        ("B", "S2", 0),
    ]
    r = await api.call(
        "POST", "/v1/availability/query", "reader", json={"skus": ["A", "B"], "group": "oslo"}
    )
    assert r.json()["totals"] == [{"sku": "A", "atp": 11}, {"sku": "B", "atp": 1}]


async def test_batch_limits(api: Api) -> None:
    skus = [f"S{i}" for i in range(BATCH_SKUS_MAX + 1)]
    r = await api.call(
        "POST", "/v1/availability/query", "reader", json={"skus": skus, "locations": ["S1"]}
    )
    assert field_of(assert_problem(r, 422)) == "skus"
    many = {"skus": [f"K{i}" for i in range(500)], "locations": [f"L{i}" for i in range(21)]}
    r = await api.call("POST", "/v1/availability/query", "reader", json=many)
    assert field_of(assert_problem(r, 422)) == "skus"  # 10,500 positions > 10,000
    r = await api.call(
        "POST", "/v1/availability/query", "reader", json={"skus": ["A", "A"], "locations": ["S1"]}
    )
    assert field_of(assert_problem(r, 422)) == "skus"
    r = await api.call(
        "POST", "/v1/availability/query", "reader", json={"skus": [], "locations": ["S1"]}
    )
    assert field_of(assert_problem(r, 422)) == "skus"


async def test_promise_counts_incoming(api: Api) -> None:
    await _stock(api)
    today = instant(api.clock).date()  # the engine's clock's day
    later = today + datetime.timedelta(days=5)
    await api.engine.stock.add_incoming("A", "S2", "po-1", 20, later)
    r = await api.call("GET", "/v1/availability/A/promise?qty=5&location=S1", "reader")
    expected = {"sku": "A", "qty": 5, "channel": "online", "date": today.isoformat()}
    assert r.json() == {**expected, "consistency": "strong"}
    r = await api.call("GET", "/v1/availability/A/promise?qty=20&group=oslo", "reader")
    assert r.json()["date"] == later.isoformat()
    r = await api.call("GET", "/v1/availability/A/promise?qty=500&group=oslo", "reader")
    assert r.json()["date"] is None


async def test_promise_errors(api: Api) -> None:
    for query, field in [
        ("", "qty"),
        ("qty=x&location=S1", "qty"),
        ("qty=0&location=S1", "qty"),
        ("qty=99999999999999999999999&location=S1", "qty"),
        ("qty=1", "location"),
    ]:
        r = await api.call("GET", f"/v1/availability/A/promise?{query}", "reader")
        assert field_of(assert_problem(r, 422)) == field, query
