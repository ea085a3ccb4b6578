"""The faults, in turn, under load: Redis SIGKILLed and restarted empty every
``redis_every_s``, PostgreSQL SIGKILLed and restarted, an API worker SIGKILLed, and a
phase of delays and dropped connections between the engine and Redis. After each: how
long until ``/readyz`` is back and a write is acknowledged."""

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from bench.faults.load import Tally
from bench.faults.proxy import NONE, Faults, FaultyProxy
from bench.faults.serve import alive, back_after, started, tail

HEALTH_PROBES = 20  # on new connections while one worker is gone: all answered
HEALTH_TIMEOUT_S = 5.0
POLL_S = 0.05  # how often a fault's effect (a process gone, one replacing it) is looked for
# A few ms each way on every chunk, and a connection cut now and then mid-command.
NETWORK_FAULTS = Faults(delay_s=0.005, drop_per_chunk=0.002)


class Server(Protocol):
    """A private server the run may crash (tests/support/servers.py)."""

    def kill(self) -> None: ...

    def start(self, port: int | None = None) -> object: ...


@dataclass(frozen=True)
class Plan:
    clients: int = 2  # of each writer kind, and storefront readers
    redis_kills: int = 3
    redis_every_s: float = 10.0
    pause_s: float = 2.5  # load between the other faults
    pg_down_s: float = 1.0
    proxy_s: float = 8.0
    proxy_faults: Faults = NETWORK_FAULTS
    within_s: float = 20.0  # serving again after each fault, or the run fails


@dataclass(frozen=True)
class Recovery:
    fault: str
    at_s: float  # into the run
    ready_s: float
    write_s: float


@dataclass
class Faulted:
    redis: Server
    postgres: Server
    proxy: FaultyProxy
    log: Path
    base: str
    recoveries: list[Recovery] = field(default_factory=list)

    async def back(self, tally: Tally, name: str, since: float, plan: Plan) -> None:
        ready, write = await back_after(self.base, tally, since, name, plan.within_s)
        at = round(since - tally.t0, 2)
        self.recoveries.append(Recovery(name, at, round(ready, 2), round(write, 2)))
        tally.note(f"{name}: serving again")


async def kill_redis(f: Faulted, tally: Tally, plan: Plan, name: str) -> None:
    since = time.monotonic()
    tally.note(f"{name} killed")
    tally.redis_losses += 1
    await asyncio.to_thread(f.redis.kill)
    await asyncio.to_thread(f.redis.start)  # empty: it keeps nothing on disk
    await f.back(tally, name, since, plan)


async def redis_every(f: Faulted, tally: Tally, plan: Plan) -> None:
    """Redis lost ``redis_kills`` times, one every ``redis_every_s`` under load."""
    for n in range(1, plan.redis_kills + 1):
        since = time.monotonic()
        await kill_redis(f, tally, plan, f"redis-{n}")
        await asyncio.sleep(max(0.0, since + plan.redis_every_s - time.monotonic()))


async def kill_postgres(f: Faulted, tally: Tally, plan: Plan) -> None:
    since = time.monotonic()
    tally.note("postgres killed")
    await asyncio.to_thread(f.postgres.kill)
    await asyncio.sleep(plan.pg_down_s)
    await asyncio.to_thread(f.postgres.start)
    await f.back(tally, "postgres", since, plan)


async def kill_worker(f: Faulted, tally: Tally, plan: Plan) -> None:
    """One API worker SIGKILLed: the other keeps the port, the supervisor replaces it."""
    workers = [(name, pid) for name, pid in started(f.log) if name.startswith("worker-")]
    name, victim = workers[-1]
    since = time.monotonic()
    tally.note(f"{name} killed")
    os.kill(victim, signal.SIGKILL)
    while alive(victim):  # its socket goes with it: the kernel then routes to the other
        assert time.monotonic() - since < plan.within_s
        await asyncio.sleep(POLL_S)
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=f.base, timeout=HEALTH_TIMEOUT_S, limits=limits) as fresh:
        statuses = [(await fresh.get("/healthz")).status_code for _ in range(HEALTH_PROBES)]
    assert statuses == [200] * HEALTH_PROBES, statuses
    await f.back(tally, "api worker", since, plan)
    while [pid for n, pid in started(f.log) if n == name][-1] == victim:  # replaced
        assert time.monotonic() - since < plan.within_s, tail(f.log)
        await asyncio.sleep(POLL_S)


async def network(f: Faulted, tally: Tally, plan: Plan) -> None:
    """Delays and dropped connections between the engine and Redis for ``proxy_s``;
    serving again is timed from the moment the network heals."""
    tally.note(f"proxy: {plan.proxy_faults}")
    f.proxy.faults = plan.proxy_faults
    await asyncio.sleep(plan.proxy_s)
    f.proxy.faults = NONE
    tally.note(f"proxy healed after {f.proxy.dropped} dropped connections")
    await f.back(tally, "proxy", time.monotonic(), plan)


async def every_fault(f: Faulted, tally: Tally, plan: Plan) -> None:
    """Each fault in turn, with load between them."""
    await asyncio.sleep(plan.pause_s)
    await redis_every(f, tally, plan)
    await kill_postgres(f, tally, plan)
    await asyncio.sleep(plan.pause_s)
    await kill_worker(f, tally, plan)
    await asyncio.sleep(plan.pause_s)
    await network(f, tally, plan)
    await asyncio.sleep(plan.pause_s)
