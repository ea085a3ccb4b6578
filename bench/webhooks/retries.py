"""The retry schedule under a receiver that fails half the time: the deliverer runs on a
manual clock that the benchmark moves to the next due attempt each round (hours of
backoff pass in moments), and every attempt the receiver saw is set against the schedule:
the gap before each retry against its nominal delay (5 s doubling, 4 h cap, +-20 %), per-SKU
order, and the final states."""

import asyncio
import itertools
import random

import asyncpg
import msgspec

from atp.clock import ManualClock
from bench.webhooks import world
from durability.db import create_pool
from webhooks.deliverer import Deliverer, wall_ms
from webhooks.limits import BACKOFF_BASE_MS, BACKOFF_CAP_MS, BACKOFF_JITTER
from webhooks.runner import Webhooks

ROUNDS_MAX = 100_000  # a bound on the loop; each round is one due time
_PENDING = "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE state = 'pending')"
_NEXT_DUE = """
SELECT min(next_attempt_ms) FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_ms > $1
"""


class Retries(msgspec.Struct, frozen=True):
    deliveries: int
    attempts: int
    retries_checked: int  # gaps before a retry, set against the schedule
    retries_early: int  # before nominal - 20 % (must be 0)
    retries_late: int  # after nominal + 20 % (must be 0)
    attempts_max: int  # of one delivery
    delivered: int
    dead: int
    order_violations: int  # a later change of a SKU attempted before an earlier one
    span_h: float  # simulated time from the first attempt to the last


def _nominal_ms(failed: int) -> int:
    return min(BACKOFF_BASE_MS << (failed - 1), BACKOFF_CAP_MS)


async def _rounds(
    pool: asyncpg.Pool, deliverer: Deliverer, clock: ManualClock, port: int
) -> list[tuple[str, int, int]]:
    """Every attempt as (webhook-id, status, simulated time)."""
    seen: list[tuple[str, int, int]] = []
    for _ in range(ROUNDS_MAX):
        await deliverer.deliver_due()
        new = (await asyncio.to_thread(world.stats, port, len(seen))).received
        seen += [(webhook_id, status, clock.now_ms()) for webhook_id, status in new]
        if not await pool.fetchval(_PENDING):
            return seen
        # Whatever is due now and still pending waits behind its SKU's earlier delivery.
        clock.value_ms = await pool.fetchval(_NEXT_DUE, clock.now_ms())
    raise RuntimeError("the schedule did not finish within ROUNDS_MAX rounds")


def _gaps(attempts: list[tuple[str, int, int]]) -> tuple[int, int, int]:
    """(checked, early, late) over every retry's gap since the attempt before it."""
    by_id: dict[str, list[int]] = {}
    for webhook_id, _, at in attempts:
        by_id.setdefault(webhook_id, []).append(at)
    checked = early = late = 0
    for times in by_id.values():
        for failed, (before, after) in enumerate(itertools.pairwise(times), 1):
            nominal, gap = _nominal_ms(failed), after - before
            checked += 1
            early += gap < nominal * (1 - BACKOFF_JITTER) - 1  # rounding: 1 ms
            late += gap > nominal * (1 + BACKOFF_JITTER) + 1
    return checked, early, late


def _order_violations(attempts: list[tuple[str, int, int]], skus: dict[str, str]) -> int:
    last: dict[str, int] = {}
    violations = 0
    for webhook_id, _, _ in attempts:
        seq, sku = int(webhook_id.removeprefix("msg_c")), skus[webhook_id]
        violations += seq < last.get(sku, 0)
        last[sku] = max(seq, last.get(sku, 0))
    return violations


async def measure(dsn: str, port: int, count: int, skus: int) -> Retries:
    pool = await create_pool(dsn, 4)
    clock = ManualClock(wall_ms())
    try:
        async with pool.acquire() as conn:
            secret = await world.add_endpoint(conn, port)
            await world.add_changes(conn, count, skus)
        with world.receiver(port, secret, 0.5, seed=11):
            runner = Webhooks(pool, allow_private=True, now_ms=clock.now_ms, rng=random.Random(5))
            assert await runner.fan_out() == count
            attempts = await _rounds(pool, runner.deliverer, clock, port)
            await runner.deliverer.close()
        rows = await pool.fetch("SELECT webhook_id, sku, state, attempts FROM webhook_deliveries")
    finally:
        await pool.close()
    checked, early, late = _gaps(attempts)
    times = [at for _, _, at in attempts]
    return Retries(
        deliveries=count,
        attempts=len(attempts),
        retries_checked=checked,
        retries_early=early,
        retries_late=late,
        attempts_max=max(r["attempts"] for r in rows),
        delivered=sum(r["state"] == "delivered" for r in rows),
        dead=sum(r["state"] == "dead" for r in rows),
        order_violations=_order_violations(attempts, {r["webhook_id"]: r["sku"] for r in rows}),
        span_h=round((max(times) - min(times)) / 3_600_000, 2),
    )
