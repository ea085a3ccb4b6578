"""Deliveries per second from the feed's rows to the receiver, signed, each recorded in
PostgreSQL; beside it, in the same run, the same signed bodies POSTed with the deliverer's
own client (httpx on webhooks/transport.py) at the same concurrency and no PostgreSQL: the
client and receiver's own ceiling."""

import asyncio
import time

import asyncpg
import msgspec

from bench.common.machine import cpu_snapshot, cpu_use
from bench.webhooks import world
from durability.db import create_pool
from webhooks import sender, signing
from webhooks.limits import IN_FLIGHT_MAX
from webhooks.runner import Webhooks

BASELINE_POSTS_MAX = 5_000


class Throughput(msgspec.Struct, frozen=True):
    deliveries: int
    skus: int
    fan_out_per_s: float  # changes read and deliveries recorded
    delivered_per_s: float
    baseline_posts_per_s: float
    unverified: int  # deliveries whose signature the receiver refused (must be 0)
    deliverer_core_share: float  # this process: claims, signing, POSTs, records
    receiver_core_share: float
    others_core_share: float


async def _until_delivered(pool: asyncpg.Pool, count: int) -> None:
    """Polls: the deliverer runs in this process but has no completion event."""
    sql = "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"
    while True:
        if await pool.fetchval(sql) >= count:
            return
        await asyncio.sleep(0.05)


async def _baseline(pool: asyncpg.Pool, port: int, secret: str) -> float:
    rows = await pool.fetch(
        "SELECT webhook_id, payload FROM webhook_deliveries ORDER BY id LIMIT $1",
        BASELINE_POSTS_MAX,
    )
    key, gate = signing.secret_key(secret), asyncio.Semaphore(IN_FLIGHT_MAX)
    url = f"http://{world.HOST}:{port}/baseline"
    async with sender.client() as http:  # the deliverer's own client and transport

        async def post(webhook_id: str, payload: str) -> None:
            body = payload.encode()
            async with gate:
                headers = signing.headers(key, webhook_id, int(time.time()), body)
                (await http.post(url, content=body, headers=headers)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(r["webhook_id"], r["payload"]) for r in rows))
        return len(rows) / (time.perf_counter() - started)


async def measure(dsn: str, port: int, count: int, skus: int) -> Throughput:
    pool = await create_pool(dsn, 4)
    try:
        async with pool.acquire() as conn:
            secret = await world.add_endpoint(conn, port)
            await world.add_changes(conn, count, skus)
        with world.receiver(port, secret, 0.0) as receiver_pid:
            runner = Webhooks(pool, allow_private=True)
            started = time.perf_counter()
            assert await runner.fan_out() == count
            fan_out_s = time.perf_counter() - started
            before, started = cpu_snapshot(), time.perf_counter()
            delivering = asyncio.create_task(runner.deliverer.run())
            await _until_delivered(pool, count)
            deliver_s = time.perf_counter() - started
            use = cpu_use(before, cpu_snapshot(), receiver_pid)
            delivering.cancel()
            await runner.deliverer.close()
            unverified = (await asyncio.to_thread(world.stats, port)).unverified
            baseline = await _baseline(pool, port, secret)
    finally:
        await pool.close()
    return Throughput(
        deliveries=count,
        skus=skus,
        fan_out_per_s=round(count / fan_out_s),
        delivered_per_s=round(count / deliver_s),
        baseline_posts_per_s=round(baseline),
        unverified=unverified,
        deliverer_core_share=use.own_core_share,
        receiver_core_share=use.redis_core_share,
        others_core_share=use.others_core_share,
    )
