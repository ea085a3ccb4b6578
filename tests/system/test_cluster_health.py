"""/readyz on a private 3-master cluster asks every master (api/health.py): a master that
does not hold ``{meta}`` going down, then coming back empty, makes the API not ready (and
its writes and reads answer 503 with Retry-After) until the ledger is rebuilt; then it is
ready again with every acknowledged write in place."""

import asyncio

import httpx
import pytest

from atp import keys
from support.cluster_api import cluster_api  # noqa: F401  (the fixture, by name)
from support.cluster_faults import master_without_meta, partitions_on, rebuild_held
from support.harness import Api
from support.servers import PrivateCluster

pytestmark = [pytest.mark.slow, pytest.mark.servers]

READY = {"redis": True, "scripts": True, "ledger": True, "postgres": True}
POLL_S, WAIT_S = 0.05, 15.0
SKUS = [f"RZ-{i}" for i in range(12)]
STORE = "S1"


async def _readyz(api: Api) -> httpx.Response:
    return await api.client.get("/readyz")


async def _until_status(api: Api, status: int) -> httpx.Response:
    for _ in range(int(WAIT_S / POLL_S)):
        response = await _readyz(api)
        if response.status_code == status:
            return response
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"/readyz never answered {status}: {response.text}")


ADJUST = "/v1/stock/adjustments"


async def _adjust(api: Api, sku: str, key: str) -> httpx.Response:
    body = {"sku": sku, "location": STORE, "delta": 5, "reason": "receipt"}
    return await api.call("POST", ADJUST, "stock", json=body, headers={"Idempotency-Key": key})


async def _on_hand(api: Api, sku: str) -> int:
    response = await api.call(
        "GET", f"/v1/availability/{sku}?location={STORE}&consistency=strong", "reader"
    )
    assert response.status_code == 200, response.text
    return int(response.json()["rows"][0].get("on_hand", 0))


async def test_readyz_asks_every_master(
    cluster_api: Api,  # noqa: F811  (the fixture imported above)
    pg_dsn: str,
    redis_cluster: PrivateCluster,
) -> None:
    api = cluster_api
    for sku in SKUS:
        done = await _adjust(api, sku, f"a-{sku}")
        assert done.status_code == 200, done.text
    ready = await _readyz(api)
    assert ready.status_code == 200 and ready.json()["checks"] == READY
    victim = master_without_meta(redis_cluster)
    lost = partitions_on(redis_cluster, victim)
    assert any(keys.partition_of_sku(sku) in lost for sku in SKUS)

    await asyncio.to_thread(victim.kill)  # down
    down = await _until_status(api, 503)
    assert down.json()["checks"]["redis"] is False

    async with rebuild_held(pg_dsn):  # the rebuild waits: look at the fenced API
        await asyncio.to_thread(victim.start, victim.require_port())  # back, empty
        await asyncio.to_thread(redis_cluster.wait_ready)
        emptied = await _until_status(api, 503)
        assert emptied.json()["checks"]["ledger"] is False
        for _ in range(int(WAIT_S / POLL_S)):  # the master answers again; the ledger is fenced
            checks = (await _readyz(api)).json()["checks"]
            if checks["redis"]:
                break
            await asyncio.sleep(POLL_S)
        assert checks["redis"] and checks["scripts"] and not checks["ledger"]
        write = await _adjust(api, SKUS[0], "late")
        assert write.status_code == 503 and write.headers["retry-after"]
        read = await api.call("GET", f"/v1/availability/{SKUS[0]}?location={STORE}", "reader")
        assert read.status_code == 503 and read.headers["retry-after"]

    ready = await _until_status(api, 200)
    assert ready.json()["checks"] == READY
    assert [await _on_hand(api, sku) for sku in SKUS] == [5] * len(SKUS)
    again = await _adjust(api, SKUS[0], f"a-{SKUS[0]}")  # the first answer, not applied again
    assert again.status_code == 200 and again.json()["result"] == "applied"
    assert await _on_hand(api, SKUS[0]) == 5
