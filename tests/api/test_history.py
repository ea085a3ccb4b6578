"""Who did it, over HTTP: a write's key and its Atp-Reference header are journaled with
each event, and GET /v1/stock/{sku}/{location}/history lists a position's changes (who,
why, the reference, the position after), newest first, a page at a time."""

from typing import Any

from api.app import OPS
from support.harness import Api, assert_problem, field_of

ADJUST = "/v1/stock/adjustments"
HISTORY = "/v1/stock/A/S1/history"


def receipt(delta: int = 5, reason: str = "receipt") -> dict[str, object]:
    return {"sku": "A", "location": "S1", "delta": delta, "reason": reason}


async def key_id(api: Api, kind: str) -> str:
    found = await api.services.pool.fetchval("SELECT key_id FROM api_keys WHERE name = $1", kind)
    assert found is not None
    return str(found)


async def history(api: Api, kind: str = "stock", query: str = "") -> dict[str, Any]:
    r = await api.call("GET", f"{HISTORY}?{query}" if query else HISTORY, kind)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_adjustment_is_journaled_with_its_key_and_reference_and_listed(
    api: Api,
) -> None:
    stock = await key_id(api, "stock")
    r = await api.call("POST", ADJUST, "stock", json=receipt(), headers={"Atp-Reference": "PO-77"})
    assert r.status_code == 200, r.text
    partition, ms, seq = (int(v) for v in r.json()["event_id"].split("-"))
    row = await api.services.pool.fetchrow(
        "SELECT actor, reference FROM ledger_events"
        " WHERE partition = $1 AND stream_ms = $2 AND stream_seq = $3",
        partition, ms, seq,
    )  # fmt: skip
    assert row is not None and tuple(row) == (stock, "PO-77")

    body = await history(api)
    assert body["sku"] == "A" and body["location"] == "S1" and body["next_before"] is None
    [item] = body["items"]
    assert item["event_id"] == r.json()["event_id"]
    assert item["type"] == "adjusted" and item["at"].startswith("20")
    assert (item["by"], item["by_name"], item["why"], item["reference"]) == (
        stock, "stock", "receipt", "PO-77",
    )  # fmt: skip
    assert (item["d_on_hand"], item["on_hand"], item["reserved"], item["atp"]) == (5, 5, 0, 5)


async def test_history_pages_newest_first_with_before(api: Api) -> None:
    for delta in (1, 2, 3, 4, 5):
        r = await api.call("POST", ADJUST, "stock", json=receipt(delta))
        assert r.status_code == 200, r.text
    first = await history(api, query="limit=2")
    assert [i["d_on_hand"] for i in first["items"]] == [5, 4]
    assert [i["on_hand"] for i in first["items"]] == [15, 10]
    assert first["items"][0]["reference"] is None  # no header: no reference
    second = await history(api, query=f"limit=2&before={first['next_before']}")
    assert [i["d_on_hand"] for i in second["items"]] == [3, 2]
    last = await history(api, query=f"limit=2&before={second['next_before']}")
    assert [i["d_on_hand"] for i in last["items"]] == [1] and last["next_before"] is None
    assert (await history(api))["next_before"] is None  # 5 changes fit the default page
    for query, field in (("before=yesterday", "before"), ("limit=0", "limit")):
        r = await api.call("GET", f"{HISTORY}?{query}", "stock")
        assert field_of(assert_problem(r, 422, "invalid-input")) == field


async def test_a_store_bound_key_reads_only_its_stores_history(api: Api) -> None:
    await api.engine.stock.adjust("A", "S2", 5, "receipt")
    r = await api.call("GET", "/v1/stock/A/S2/history", "pos")
    assert_problem(r, 403, "location-not-allowed")
    assert (await history(api, "pos"))["items"] == []
    assert_problem(await api.call("GET", HISTORY, "oms"), 403, "scope-missing")


async def test_holds_commits_and_sales_carry_their_key(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 10, "receipt")  # no actor: the engine itself
    oms, pos = await key_id(api, "oms"), await key_id(api, "pos")
    hold = {"id": "r1", "channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": 2}]}
    ref = {"Atp-Reference": "order 1001"}
    assert (await api.call("POST", "/v1/reservations", "oms", json=hold, headers=ref)).is_success
    assert (await api.call("POST", "/v1/reservations/r1/commit", "oms")).is_success
    sale = {
        "type": "sale",
        "event_id": "e1",
        "device_seq": 1,
        "occurred_at": "2026-11-22T10:00:00Z",
        "sku": "A",
        "location": "S1",
        "qty": 1,
    }
    r = await api.call(
        "POST", "/v1/pos/till-1/events", "pos", json={"events": [sale]},
        headers={"Atp-Reference": "receipt-5"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    items = (await history(api))["items"]
    assert [(i["type"], i["by"], i["reference"], i["by_name"]) for i in items] == [
        ("adjusted", pos, "receipt-5", "pos"),
        ("reserved", oms, "order 1001", "oms"),
        ("adjusted", "", None, None),
    ]
    assert items[0]["why"] == "pos_sale:till-1/e1" and items[0]["on_hand"] == 9
    header = await api.services.pool.fetch(
        "SELECT type, actor, reference FROM ledger_events WHERE reservation_id = 'r1'"
        " AND sku = '' ORDER BY stream_ms, stream_seq"
    )
    assert [tuple(r) for r in header] == [
        ("reservation_held", oms, "order 1001"),
        ("reservation_committed", oms, ""),
    ]


async def test_a_bad_reference_is_422_and_writes_nothing(api: Api) -> None:
    for bad in ("", " x", "x" * 201, "caf\u00e9"):
        r = await api.call(
            "POST", ADJUST, "stock", json=receipt(),
            headers={"Atp-Reference": bad.encode(), "Idempotency-Key": "k1"},
        )  # fmt: skip
        body = assert_problem(r, 422, "invalid-input")
        assert field_of(body) == "header.Atp-Reference"
    assert (await history(api))["items"] == []
    # Refused before the handler: not the Idempotency-Key's answer, so a fixed retry applies.
    r = await api.call(
        "POST", ADJUST, "stock", json=receipt(),
        headers={"Atp-Reference": "PO-78", "Idempotency-Key": "k1"},
    )  # fmt: skip
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers
    assert [i["reference"] for i in (await history(api))["items"]] == ["PO-78"]


async def test_every_write_declares_the_reference_header(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    by_name = {op.name: op for op in OPS}
    for methods in document["paths"].values():
        for operation in methods.values():
            op = by_name.get(operation["operationId"])
            if op is None:  # health routes
                continue
            names = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
            assert ("Atp-Reference" in names) == op.is_write, op.name
