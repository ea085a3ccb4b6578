"""The routing benchmark's measurements: a seeded network written to the ledger, orders,
and plan latency through two engines on the same orders in the same run: one reading
availability from its in-memory replica, one reading Redis. The pure plan() is timed on
the same candidates so the fetch's share shows.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import asyncio
import gc
import random
import time
from array import array

import msgspec
import redis.asyncio

from bench.common.stats import Samples, Summary, summarize
from engine.local import Engine
from oracles.instances import candidates
from routing.live import candidates_for, plan_order
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import Order, OrderLine, Policy, ShipTo
from routing.plan import plan

LINES = (1, 5, 20)
CANDIDATES = (50, 200)
SKU_POOL = 400
SEED_CONCURRENCY_MAX = 500
REPLICA_READY_TIMEOUT_S = 60.0
BEST_OF = 3


class Scenario(msgspec.Struct, frozen=True):
    lines: int
    candidates: int
    replica: Summary  # plan_order, availability from the engine's in-memory replica
    redis: Summary  # plan_order, availability read from Redis
    # plan_order on the replica, each order's fastest of BEST_OF runs: what an order costs
    # without a neighbour's interference (the box is shared), not a latency anyone sees.
    replica_best: Summary
    pure: Summary  # plan() alone, on the same candidates
    shipments_mean: float
    proven_optimal_share: float

    @property
    def redis_over_replica_p50(self) -> float:
        return self.redis.latency_us_p50 / max(self.replica.latency_us_p50, 1e-9)

    @property
    def redis_over_replica_p99(self) -> float:
        return self.redis.latency_us_p99 / max(self.replica.latency_us_p99, 1e-9)


async def network(engine: Engine, count: int) -> InMemoryDirectory:
    """``count`` locations with stock written to the ledger (names unique per count)."""
    rng = random.Random(count)
    skus = [f"RB-{k:03d}" for k in range(SKU_POOL)]
    cands = candidates(rng, skus, count)
    rows = [(s, f"N{count}-{c.location}", q) for c in cands for s, q in c.atp.items()]
    for start in range(0, len(rows), SEED_CONCURRENCY_MAX):
        chunk = rows[start : start + SEED_CONCURRENCY_MAX]
        await asyncio.gather(*(engine.stock.set_on_hand(s, loc, q) for s, loc, q in chunk))
    return InMemoryDirectory(
        [
            RoutingLocation(
                f"N{count}-{c.location}",
                c.kind,
                c.capabilities,
                c.lat,
                c.lon,
                c.capacity_units,
                c.priority,
            )
            for c in cands
        ]
    )


def orders(lines: int, n: int) -> list[Order]:
    rng = random.Random(lines * 7919 + n)
    out = []
    for _ in range(n):
        skus = [f"RB-{k:03d}" for k in rng.sample(range(SKU_POOL), lines)]
        order_lines = [OrderLine(s, rng.choice((1, 1, 2))) for s in skus]
        point = ShipTo(rng.uniform(58.5, 61.4), rng.uniform(7.8, 13.7))
        out.append(Order(order_lines, point))
    return out


async def _timed(engine: Engine, order: Order, directory: InMemoryDirectory, policy: Policy) -> int:
    t0 = time.perf_counter_ns()
    await plan_order(engine, order, directory, policy)
    return time.perf_counter_ns() - t0


async def scenario(
    fast: Engine, slow: Engine, directory: InMemoryDirectory, lines: int, count: int, plans: int
) -> Scenario:
    """``fast`` reads its replica, ``slow`` reads Redis: alternated order by order, so a
    noisy neighbour hits both alike and their ratio holds even when absolute figures drift."""
    todo, policy = orders(lines, plans), Policy()
    for o in todo[: max(1, plans // 10)]:  # warm-up: scripts loaded, caches filled
        await plan_order(fast, o, directory, policy)
        await plan_order(slow, o, directory, policy)
    fast_ns, slow_ns, pure_ns = array("q"), array("q"), array("q")
    fast_cpu = slow_cpu = fast_wall = slow_wall = 0
    for o in todo:
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        fast_ns.append(await _timed(fast, o, directory, policy))
        fast_wall += time.perf_counter_ns() - wall
        fast_cpu += time.process_time_ns() - cpu
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        slow_ns.append(await _timed(slow, o, directory, policy))
        slow_wall += time.perf_counter_ns() - wall
        slow_cpu += time.process_time_ns() - cpu
    best_ns = array("q")
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    for o in todo:
        best_ns.append(min([await _timed(fast, o, directory, policy) for _ in range(BEST_OF)]))
    best = Samples(best_ns, time.perf_counter_ns() - wall, time.process_time_ns() - cpu)
    fetched = [await candidates_for(fast, o, directory) for o in todo]
    shipments = proven = 0
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    for o, cands in zip(todo, fetched, strict=True):
        t0 = time.perf_counter_ns()
        result = plan(o, cands, policy)
        pure_ns.append(time.perf_counter_ns() - t0)
        shipments += len(result.shipments)
        proven += result.proven_optimal
    pure = Samples(pure_ns, time.perf_counter_ns() - wall, time.process_time_ns() - cpu)
    return Scenario(
        lines,
        count,
        summarize(Samples(fast_ns, fast_wall, fast_cpu)),
        summarize(Samples(slow_ns, slow_wall, slow_cpu)),
        summarize(best),
        summarize(pure),
        round(shipments / plans, 2),
        round(proven / plans, 3),
    )


async def latency(url: str, plans: int) -> tuple[list[Scenario], str, int]:
    """Every lines x candidates scenario; (scenarios, Redis version, Redis pid)."""
    client = redis.asyncio.Redis.from_url(url)
    slow = Engine.connect(url)
    fast = Engine.connect(url, replica=True)
    try:
        server = await client.info("server")
        await client.flushdb()
        directories = {count: await network(slow, count) for count in CANDIDATES}
        # Loaded after the seeding, so it starts whole: ready once it has caught up.
        await fast.start_replica()
        replica = fast.replica
        assert replica is not None
        deadline = time.monotonic() + REPLICA_READY_TIMEOUT_S
        while not replica.ready:
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not become ready")
            await asyncio.sleep(0.05)
        scenarios = []
        for count in CANDIDATES:
            gc.collect()
            gc.freeze()  # as an API worker does after start-up: set-up objects are not scanned
            for lines in LINES:
                scenarios.append(
                    await scenario(fast, slow, directories[count], lines, count, plans)
                )
    finally:
        await client.flushdb()  # leave the database as found
        await fast.close()
        await slow.close()
        await client.aclose()
    return scenarios, str(server["redis_version"]), int(server["process_id"])
