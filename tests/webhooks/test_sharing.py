"""Several processes share the work: two fan-outs never record a range twice (the consumer
row is locked), two deliverers never attempt one delivery at once (leased claims, SKIP
LOCKED), and the API's lifespan runs both."""

import asyncio
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from atp.clock import ManualClock
from support.harness import Api, serving, settings_for
from support.webhook_feed import add_changes, deliveries, endpoint, until
from support.webhook_receiver import Receiver
from webhooks.deliverer import Deliverer
from webhooks.fanout import fan_out
from webhooks.limits import FANOUT_BATCH_MAX


async def test_concurrent_fan_outs_record_each_change_once(
    db: asyncpg.Pool, receiver: Receiver, wall_clock: ManualClock
) -> None:
    await endpoint(db, receiver, "/a")
    await endpoint(db, receiver, "/b")
    count = FANOUT_BATCH_MAX + 50
    await add_changes(db, *({"sku": f"SKU-{n % 7}"} for n in range(count)))
    batches = await asyncio.gather(*(fan_out(db, wall_clock.now_ms) for _ in range(4)))
    assert sum(b.changes for b in batches) == count  # each change read by one of them
    assert sum(b.deliveries for b in batches) == 2 * count
    assert len(await deliveries(db)) == 2 * count
    consumer = await db.fetchval("SELECT seq FROM change_consumers WHERE name = 'webhooks'")
    assert consumer == await db.fetchval("SELECT max(seq) FROM changes")


async def test_two_deliverers_attempt_each_delivery_once(
    db: asyncpg.Pool, receiver: Receiver, wall_clock: ManualClock
) -> None:
    await endpoint(db, receiver)
    await add_changes(db, *({"sku": f"SKU-{n}"} for n in range(120)))  # 120 heads at once
    await fan_out(db, wall_clock.now_ms)
    receiver.delay_s = 0.001
    pair = [
        Deliverer(db, allow_private=True, now_ms=wall_clock.now_ms, rng=random.Random(n))
        for n in range(2)
    ]
    try:
        made = await asyncio.gather(*(d.deliver_due() for d in pair))
    finally:
        for each in pair:
            await each.close()
    assert sum(made) == 120 and all(made)  # both took part
    assert sorted(r.webhook_id for r in receiver.received) == sorted(
        r["webhook_id"] for r in await deliveries(db)
    )  # each once


@pytest.fixture
async def running(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    settings = settings_for(redis_url, pg_dsn, webhooks_allow_private=True)
    async with serving(settings, clock) as api:
        yield api


async def test_the_api_lifespan_fans_out_and_delivers(
    running: Api, db: asyncpg.Pool, receiver: Receiver
) -> None:
    body = {"url": receiver.url(), "types": ["went_unavailable"]}
    created = (await running.call("POST", "/v1/webhooks", json=body)).json()
    receiver.secrets["/hook"] = created["secret"]
    await add_changes(db, {"type": "went_unavailable", "sku": "SKU-9"})

    async def arrived() -> bool:
        return bool(receiver.delivered())

    await until(arrived)
    [got] = receiver.delivered()
    assert got.verified and got.payload["data"]["sku"] == "SKU-9"
