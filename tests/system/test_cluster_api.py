"""The API's contract on a private 3-master Redis Cluster, in-process (support/harness.py
with a cluster URL; support/cluster_api.py): every operation of the OpenAPI document
answers without a server error and every write only once durable (the route table of
support/routes_table.py, as tests/api/test_every_write_durable.py walks it on one Redis);
then representative flows whose keys span the masters: availability (one SKU, a batch, a
group), reservations (hold, commit, fulfil, release, listing across masters), stock and
incoming supply, register events, orders (place, confirm, the pickup steps, a shipment, a
return), the change stream, a webhook delivered to a local receiver and a back-in-stock
alert triggered."""

import asyncio
import json
from typing import Any

import httpx
import pytest

from api.app import OPS
from atp import keys
from atp.limits import LEDGER_PARTITIONS
from durability.store import split_stream_id
from support.cluster_api import Shop, cluster_api, cluster_shop  # noqa: F401  (fixtures)
from support.harness import Api
from support.order_world import pickup, shipped
from support.routes_table import SAMPLES, arrange, path_of
from support.servers import PrivateCluster

pytestmark = [pytest.mark.slow, pytest.mark.servers, pytest.mark.timeout(60)]

ADJUST = "/v1/stock/adjustments"
SKUS = [f"CL-{i}" for i in range(12)]  # spread over every master
POLL_S, WAIT_S = 0.05, 10.0


async def _newest_in_redis(api: Api) -> dict[int, tuple[int, int]]:
    newest = {}
    for p in range(LEDGER_PARTITIONS):
        last = await api.engine.redis.command("XREVRANGE", keys.stream(p), "+", "-", "COUNT", 1)
        if last:
            newest[p] = split_stream_id(str(last[0][0]))
    return newest


async def _journaled(api: Api, newest: dict[int, tuple[int, int]]) -> bool:
    for partition, (ms, seq) in newest.items():
        query = "SELECT 1 FROM ledger_events WHERE partition=$1 AND stream_ms=$2 AND stream_seq=$3"
        if not await api.services.pool.fetchval(query, partition, ms, seq):
            return False
    return True


async def test_every_operation_answers_on_a_cluster_and_writes_only_once_durable(
    cluster_api: Api,  # noqa: F811  (the fixture imported above)
) -> None:
    api = cluster_api
    admin = (await arrange(api.services, api.services.pool))["admin"]
    await api.services.durability.sync()
    document = (await api.client.get("/openapi.json")).json()
    writes = {op.name for op in OPS if op.is_write}
    wrong, answered = [], 0
    for template, methods in document["paths"].items():
        for method, operation in methods.items():
            name = operation["operationId"]
            sample = SAMPLES.get(name)
            if sample is None:  # the probes: /readyz on a cluster has tests of its own
                continue
            r = await api.client.request(
                method.upper(),
                path_of(template, sample),
                json=sample.json("admin"),
                headers={"Authorization": f"Bearer {admin}"},
            )
            answered += 1
            if r.status_code >= 500:
                wrong.append(f"{name}: {r.status_code} {r.text[:200]}")
            elif name in writes and not await _journaled(api, await _newest_in_redis(api)):
                wrong.append(f"{name} answered {r.status_code} before its events were journaled")
    assert not wrong, "\n".join(wrong)
    assert answered == len(SAMPLES)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _masters_of(cluster: PrivateCluster, names: list[str]) -> set[int]:
    return {cluster.master_of_key(name) for name in names}


async def _receipts(api: Api) -> None:
    for sku in SKUS:
        body = {"sku": sku, "location": "S1", "delta": 10, "reason": "receipt"}
        await _ok(await api.call("POST", ADJUST, "stock", json=body))


async def test_stock_writes_supply_and_availability_one_batch_and_group(
    cluster_shop: Shop,  # noqa: F811
    redis_cluster: PrivateCluster,
) -> None:
    api = cluster_shop.api
    positions = [keys.position(sku, "S1") for sku in SKUS]
    assert _masters_of(redis_cluster, positions) == set(redis_cluster.ports)
    await _receipts(api)
    count = {"on_hand": 12, "expected_on_hand": 10, "reason": "cycle_count"}
    await _ok(await api.call("PUT", f"/v1/stock/{SKUS[0]}/S1", "stock", json=count))
    await _ok(await api.call("PUT", f"/v1/stock/{SKUS[1]}/S1/safety", "stock", json={"safety": 2}))
    supply = {"sku": SKUS[2], "location": "S1", "qty": 7, "expected_at": "2027-02-01"}
    await _ok(
        await api.call("POST", "/v1/stock/incoming", "stock", json={**supply, "supply_id": "po-1"})
    )
    part = {"sku": SKUS[2], "location": "S1", "qty": 3}
    await _ok(await api.call("POST", "/v1/stock/incoming/po-1/receive", "stock", json=part))

    one = await _ok(
        await api.call("GET", f"/v1/availability/{SKUS[0]}?location=S1&location=S2", "reader")
    )
    assert [(r["location"], r.get("on_hand", 0)) for r in one["rows"]] == [("S1", 12), ("S2", 0)]
    query = {"skus": SKUS, "locations": ["S1"]}
    batch = await _ok(await api.call("POST", "/v1/availability/query", "reader", json=query))
    rows = {r["sku"]: r for r in batch["rows"]}
    assert {sku: r.get("on_hand", 0) for sku, r in rows.items()} == {
        **dict.fromkeys(SKUS, 10), SKUS[0]: 12, SKUS[2]: 13,
    }  # fmt: skip
    assert rows[SKUS[1]]["atp"] == 8 and rows[SKUS[2]]["incoming"] == 4
    group = await _ok(await api.call("GET", "/v1/availability/A?group=oslo", "reader"))
    assert group["total"] == 10 and {r["location"] for r in group["rows"]} == {"S1", "S2"}


async def test_reservations_held_committed_fulfilled_released_and_listed_across_masters(
    cluster_shop: Shop,  # noqa: F811
    redis_cluster: PrivateCluster,
) -> None:
    api = cluster_shop.api
    await _receipts(api)
    ids = [f"hold-{i}" for i in range(6)]
    assert len(_masters_of(redis_cluster, [keys.header(rid) for rid in ids])) > 1
    for i, rid in enumerate(ids):
        lines = [
            {"sku": SKUS[i], "location": "S1", "qty": 2},
            {"sku": SKUS[i + 6], "location": "S1", "qty": 1},
        ]
        hold = {"id": rid, "channel": "online", "lines": lines}
        held = await _ok(await api.call("POST", "/v1/reservations", "oms", json=hold), 201)
        assert held["state"] == "held"
    listed = await _ok(await api.call("GET", "/v1/reservations?state=held&limit=100", "oms"))
    assert {item["id"] for item in listed["items"]} == set(ids)
    await _ok(await api.call("POST", "/v1/reservations/hold-0/commit", "oms"))
    some = {"lines": [{"sku": SKUS[0], "location": "S1", "qty": 1}]}
    await _ok(await api.call("POST", "/v1/reservations/hold-0/fulfill", "oms", json=some))
    await _ok(await api.call("POST", "/v1/reservations/hold-1/release", "oms"))
    assert (await _ok(await api.call("GET", "/v1/reservations/hold-0", "oms")))["state"] == (
        "committed"
    )
    assert (await _ok(await api.call("GET", "/v1/reservations/hold-1", "oms")))["state"] == (
        "released"
    )
    path = f"/v1/availability/{SKUS[0]}?location=S1&consistency=strong"
    row = (await _ok(await api.call("GET", path, "reader")))["rows"][0]
    assert (row.get("on_hand", 0), row.get("reserved", 0)) == (9, 1)


def _sale(number: int, sku: str) -> dict[str, Any]:
    sale = {"type": "sale", "event_id": f"e-{number}", "device_seq": number + 1}
    return {**sale, "occurred_at": "2027-01-15T08:00:00Z", "sku": sku, "location": "S1", "qty": 1}


async def test_register_events_apply_once(cluster_shop: Shop) -> None:  # noqa: F811
    api = cluster_shop.api
    await _receipts(api)
    sales = [_sale(i, sku) for i, sku in enumerate(SKUS)]
    url, batch = "/v1/pos/till-1/events", {"events": sales}
    first = await _ok(await api.call("POST", url, "pos", json=batch))
    assert [r["status"] for r in first["results"]] == ["applied"] * len(SKUS)
    again = await _ok(await api.call("POST", url, "pos", json=batch))
    assert [r["status"] for r in again["results"]] == ["duplicate"] * len(SKUS)
    sold = await api.engine.availability.positions(SKUS, ["S1"])
    assert {p.on_hand for p in sold} == {9}  # each sale applied once


async def test_orders_from_placing_to_a_return(cluster_shop: Shop) -> None:  # noqa: F811
    api = cluster_shop.api
    placed = await _ok(await api.call("POST", "/v1/orders", "orders", pickup("web-1", 2)), 201)
    assert placed["state"] == "placed" and placed["promised_at"]
    await _ok(await api.call("POST", "/v1/orders/web-1/confirm", "orders"))
    for step in ("picking", "staged", "ready", "arrived", "picked_up"):
        done = await _ok(await api.call("POST", f"/v1/orders/web-1/pickup/{step}", "pos"))
        assert done["state"] == step
        api.clock.advance(60_000)
    store = await api.engine.availability.position("A", "S1")
    assert (store.on_hand, store.reserved) == (8, 0)

    order = shipped("web-2", ("A", 4), ("B", 2))
    routed = await _ok(await api.call("POST", "/v1/orders", "orders", order), 201)
    assert [s["location"] for s in routed["shipments"]] == ["W1"]
    await _ok(await api.call("POST", "/v1/orders/web-2/confirm", "orders"))
    box = {
        "location": "W1",
        "lines": [{"sku": "A", "qty": 4}, {"sku": "B", "qty": 2}],
        "carrier": "posten",
        "tracking": "T-1",
    }
    sent = await _ok(await api.call("POST", "/v1/orders/web-2/shipments", "orders", box), 201)
    assert sent["state"] == "shipped"

    line = {"sku": "A", "qty": 1, "reason": "changed_mind", "condition": "new"}
    back = {"id": "ret-1", "order_id": "web-1", "location": "S2", "lines": [line]}
    returned = await _ok(await api.call("POST", "/v1/returns", "admin", json=back), 201)
    assert returned["state"] == "received"
    assert (await api.engine.availability.position("A", "S2")).on_hand == 1
    assert (await api.engine.availability.position("A", "W1")).on_hand == 96


async def _until(check: Any) -> Any:
    for _ in range(int(WAIT_S / POLL_S)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(POLL_S)
    raise AssertionError("not in time")


def _events(text: str) -> list[dict[str, Any]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if "data" in fields:
            found.append({"event": fields.get("event"), "data": json.loads(fields["data"])})
    return found


async def test_changes_webhooks_and_a_back_in_stock_alert(cluster_shop: Shop) -> None:  # noqa: F811
    api, receiver = cluster_shop.api, cluster_shop.receiver
    hook = {"url": receiver.url(), "types": ["adjusted", "alert.triggered"], "skus": ["BIS"]}
    made = await _ok(await api.call("POST", "/v1/webhooks", json=hook), 201)
    receiver.secrets["/hook"] = made["secret"]
    sign_up = {
        "contact": {"email": "kari@example.no"},
        "consent": {"given": True, "at": "2027-01-15T07:00:00Z", "source": "tests"},
        "sku": "BIS", "location": "S1", "channel": "online",
    }  # fmt: skip
    await _ok(await api.call("POST", "/v1/alerts/subscriptions", json=sign_up), 201)
    body = {"sku": "BIS", "location": "S1", "delta": 3, "reason": "receipt"}
    await _ok(await api.call("POST", ADJUST, "stock", json=body))

    async def streamed() -> list[dict[str, Any]]:
        r = await api.call("GET", "/v1/changes?after=0&sku=BIS&timeout_s=0.3", "reader")
        return [e for e in _events(r.text) if e["event"] in ("adjusted", "back_in_stock")]

    events = await _until(streamed)
    assert events[0]["event"] == "adjusted" and events[0]["data"]["on_hand"] == 3

    async def delivered() -> list[str]:
        kinds = [d.payload["type"] for d in receiver.delivered()]
        return kinds if {"adjusted", "alert.triggered"} <= set(kinds) else []

    await _until(delivered)
    assert all(d.verified for d in receiver.delivered())
    alert = next(d.payload for d in receiver.delivered() if d.payload["type"] == "alert.triggered")
    assert alert["data"]["sku"] == "BIS" and alert["data"]["contact"] == {
        "email": "kari@example.no"
    }
    sends = await api.services.pool.fetchval("SELECT count(*) FROM alert_sends")
    assert sends == 1
