"""One Redis against a 3-master cluster, same load, same run: reservations (3 lines in
3 partitions, held then released; held only, which is script calls alone: a release also
reads the header and legs with HGETALL, through redis-py on a cluster) and Redis-side reads
(one HMGET, through redis-py on a cluster), by concurrent callers through the engine for a
fixed time. Reported: operations/s and Redis CPU per operation (every node's
``used_cpu_sys + used_cpu_user`` over the phase, divided by the operations). On two cores
the load generator and the masters share the CPU, so throughput says little about scale;
Redis CPU per operation says what the cluster path costs."""

import asyncio
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import redis

from atp.model import Channel
from engine.local import Engine
from reservations.model import Line

CALLERS: Final = 16
PHASE_S: Final = 8.0
SKUS: Final = 300
LOCATION: Final = "S1"
SERVERS_MODULE: Final = "tests.support.servers"  # the tests' private servers, by name


@dataclass(frozen=True)
class Phase:
    engine: str  # "1 Redis" or "3 masters"
    operation: str
    ops: int
    ops_per_s: float
    redis_cpu_us_per_op: float


def _cpu_s(clients: list[redis.Redis]) -> float:
    total = 0.0
    for c in clients:
        info = c.info("cpu")
        total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    return total


async def _timed(work: Callable[[int, int], Any]) -> int:
    done = 0
    stop = time.monotonic() + PHASE_S

    async def caller(n: int) -> None:
        nonlocal done
        step = 0
        while time.monotonic() < stop:
            await work(n, step)
            step += 1
            done += 1

    await asyncio.gather(*(caller(n) for n in range(CALLERS)))
    return done


async def _phases(name: str, url: str, nodes: list[redis.Redis]) -> list[Phase]:
    engine = Engine.connect(url)
    found = []
    try:
        skus = [f"CAP-{i:04d}" for i in range(SKUS)]
        await asyncio.gather(
            *(engine.stock.set_on_hand(s, LOCATION, 10**6, reason="seed") for s in skus)
        )

        async def reserve(n: int, step: int) -> None:
            lines = [Line(skus[(n * 97 + step * 3 + k) % SKUS], LOCATION, 1) for k in range(3)]
            rid = f"{name[0]}-{n}-{step}"
            await engine.reservations.reserve(rid, Channel.online, lines, ttl_s=60)
            await engine.reservations.release(rid)

        async def hold(n: int, step: int) -> None:  # script calls only (release reads too)
            lines = [Line(skus[(n * 89 + step * 3 + k) % SKUS], LOCATION, 1) for k in range(3)]
            await engine.reservations.reserve(f"h{name[0]}-{n}-{step}", Channel.online, lines, 60)

        async def read(n: int, step: int) -> None:
            await engine.availability.position(skus[(n * 31 + step) % SKUS], LOCATION)

        for operation, work in (
            ("reserve 3 lines + release", reserve),
            ("reserve 3 lines", hold),
            ("read 1 position", read),
        ):
            before, started = _cpu_s(nodes), time.monotonic()
            ops = await _timed(work)
            took, cpu = time.monotonic() - started, _cpu_s(nodes) - before
            found.append(Phase(name, operation, ops, ops / took, cpu / ops * 1e6))
    finally:
        await engine.close()
    return found


def compare(single_url: str, single: redis.Redis) -> list[Phase]:
    """The single Redis given, then a private 3-master cluster started and ended here."""
    found = asyncio.run(_phases("1 Redis", single_url, [single]))
    servers = importlib.import_module(SERVERS_MODULE)
    cluster = servers.PrivateCluster().start()
    try:
        found += asyncio.run(_phases("3 masters", cluster.url, cluster.clients()))
    finally:
        cluster.close()
    return found


def markdown(phases: list[Phase]) -> str:
    rows = "\n".join(
        f"| {p.engine} | {p.operation} | {p.ops:,} | {p.ops_per_s:,.0f} | "
        f"{p.redis_cpu_us_per_op:.0f} |"
        for p in phases
    )
    return (
        f"\n{CALLERS} callers through the engine, {PHASE_S:g} s a phase, one process; every "
        "master's CPU summed.\n\n| engine | operation | ops | ops/s | Redis CPU us/op |\n"
        f"|---|---|--:|--:|--:|\n{rows}\n"
    )
