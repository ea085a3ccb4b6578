"""The pickup promise: ``GET /v1/pickup/promise`` over HTTP (a flow of one request, see
load.py), and its pieces timed in this process, each call on its own clock:

- ``promise()`` alone (orders/pickup_promise.py, pure): for the benchmark's stores (open
  around the clock, UTC) and for a typical one (Europe/Oslo, weekday and Saturday hours,
  Sunday and holidays closed, a queue at a capacity), received at moments spread over a
  fortnight so some walk past closed evenings and Sundays;
- the store's inputs read from PostgreSQL (orders/pickup_inputs.py ``read``: what a process
  does once per store per 2 s, the rest of the time it answers from memory);
- the availability promise date read from Redis (the route's engine call).
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import asyncio
import datetime as dt
import random
import time
from array import array
from collections.abc import Callable
from urllib.parse import urlencode

import asyncpg
import msgspec

from atp.model import Channel
from bench.common.stats import percentile_ns
from bench.orders.load import Flow
from bench.orders.world import HOURS, SKUS, STORE_IDS
from engine.local import Engine
from orders.pickup_inputs import read
from orders.pickup_promise import Store, promise

PURE_CALLS = 20_000
INPUT_READS = 300
DATE_READS = 2_000
FORTNIGHT_MINUTES = 14 * 24 * 60
TYPICAL = Store(
    time_zone="Europe/Oslo",
    opening_hours={
        **{d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [["10:00", "18:00"]],
    },
    holidays=frozenset({dt.date(2026, 12, 24), dt.date(2026, 12, 25), dt.date(2026, 12, 26)}),
    capacity_per_hour=12,
)
BENCH_STORE = Store(time_zone="UTC", opening_hours=HOURS)


class Piece(msgspec.Struct, frozen=True):
    name: str
    calls: int
    us_p50: float
    us_p99: float
    us_max: float


def route_flow(seed_: int) -> Flow:
    rng = random.Random(seed_)
    paths = [
        "/v1/pickup/promise?"
        + urlencode({"sku": rng.choice(SKUS), "qty": rng.randint(1, 3), "location": store})
        for store in (rng.choice(STORE_IDS) for _ in range(4096))
    ]
    return Flow("GET /v1/pickup/promise", lambda n: ("GET", paths[n % len(paths)], b""))


def _piece(name: str, latencies: array[int]) -> Piece:
    ordered = sorted(latencies)
    return Piece(
        name,
        len(ordered),
        round(percentile_ns(ordered, 50) / 1000, 2),
        round(percentile_ns(ordered, 99) / 1000, 2),
        round(ordered[-1] / 1000, 2),
    )


def _pure(name: str, store: Store, queue_ahead: int) -> Piece:
    rng = random.Random(7)
    base = dt.datetime(2026, 12, 14, tzinfo=dt.UTC)  # a Monday; the fortnight holds holidays
    moments = [base + dt.timedelta(minutes=rng.randrange(FORTNIGHT_MINUTES)) for _ in range(997)]
    latencies = array("q")
    clock: Callable[[], int] = time.perf_counter_ns
    for i in range(PURE_CALLS):
        received = moments[i % len(moments)]
        started = clock()
        promise(store, received, queue_ahead=queue_ahead)
        latencies.append(clock() - started)
    return _piece(name, latencies)


async def _inputs(dsn: str) -> Piece:
    conn = await asyncpg.connect(dsn)
    latencies = array("q")
    try:
        for i in range(INPUT_READS):
            now = dt.datetime.now(dt.UTC)
            started = time.perf_counter_ns()
            await read(conn, STORE_IDS[i % len(STORE_IDS)], now)
            latencies.append(time.perf_counter_ns() - started)
    finally:
        await conn.close()
    return _piece("store inputs read from PostgreSQL (a cache miss)", latencies)


async def _dates(redis_url: str) -> Piece:
    engine = Engine.connect(redis_url)
    latencies = array("q")
    today = dt.datetime.now(dt.UTC).date()
    try:
        for i in range(DATE_READS):
            sku, store = SKUS[i % len(SKUS)], STORE_IDS[i % len(STORE_IDS)]
            started = time.perf_counter_ns()
            await engine.availability.promise(sku, 1, [store], Channel.online, today)
            latencies.append(time.perf_counter_ns() - started)
    finally:
        await engine.close()
    return _piece("availability promise date from Redis (engine)", latencies)


def in_process(dsn: str, redis_url: str) -> list[Piece]:
    pieces = [
        _pure("promise() pure, bench store (UTC, open 00:00-23:59)", BENCH_STORE, 0),
        _pure("promise() pure, typical store (Oslo hours, holidays, 5 queued at 12/h)", TYPICAL, 5),
    ]
    pieces.append(asyncio.run(_inputs(dsn)))
    pieces.append(asyncio.run(_dates(redis_url)))
    return pieces
