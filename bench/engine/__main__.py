"""Engine micro-benchmark: reads and reservations against raw redis-py round trips, measured
in the same run on the local Redis. No HTTP. ``python -m bench.engine [--quick]``.

Absolute figures on a shared 2-core box swing from run to run; the ratios to baselines
measured in the same process, interleaved with the engine's operations, are what to compare.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import argparse
import asyncio
import gc
import random
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import redis.asyncio
import uvloop

from atp import keys
from atp.limits import QTY_MAX
from atp.model import Channel
from atp.scripts import Script
from bench.common.cli import refuse_database_zero
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import NS_PER_S, Samples, summarize
from bench.engine import closed_loop, render
from bench.engine import report as engine_report
from bench.engine.closed_loop import Op
from bench.engine.hot import hot_sku
from bench.engine.report import Measured, Report
from engine.local import Engine
from reservations.model import Line, ReserveResult

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/9"
RESULTS_PREAMBLE = "# Benchmark results\n\nProvisional figures are re-run on a quiet machine.\n"
CALLER_COUNTS = (1, 16)
BATCH_SKUS = 100  # the batch query: 100 SKUs x 20 locations
BATCH_LOCATIONS = 20
ORDER_LINES = 3
ARG_CYCLE = 4096  # precomputed arguments per operation; a power of two, indexed by mask
SEED_CONCURRENCY_MAX = 500
# One-unit reservations never run a position seeded this high short: nothing is released.
SEED_ON_HAND = QTY_MAX
TRIVIAL_LUA = "return 1"
PACKAGES = ("redis", "hiredis", "uvloop", "msgspec")
HGET, EVALSHA = "redis-py HGET", "redis-py EVALSHA"


class Mode(msgspec.Struct, frozen=True):
    name: str
    rounds: int  # each scenario is measured this many times, interleaved, samples pooled
    measure_s: float
    warmup_s: float
    hot_s: float


QUICK = Mode("quick", rounds=1, measure_s=1.0, warmup_s=0.25, hot_s=1.0)
FULL = Mode("full", rounds=3, measure_s=3.0, warmup_s=0.5, hot_s=4.0)


class Scenario(msgspec.Struct, frozen=True):
    name: str
    op: Op
    baseline: str | None = None
    positions_per_call: int = 1


class BenchFailure(Exception):
    pass


async def _seed(engine: Engine, skus: list[str], locations: list[str]) -> None:
    pairs = [(s, loc) for s in skus for loc in locations]
    for start in range(0, len(pairs), SEED_CONCURRENCY_MAX):
        chunk = pairs[start : start + SEED_CONCURRENCY_MAX]
        await asyncio.gather(*(engine.stock.set_on_hand(s, loc, SEED_ON_HAND) for s, loc in chunk))


def _orders(
    skus: list[str], locations: list[str], lines: int, rng: random.Random
) -> list[list[Line]]:
    """Orders whose lines all sit in different partitions: one leg per line."""
    orders: list[list[Line]] = []
    while len(orders) < ARG_CYCLE:
        picked = rng.sample(skus, lines)
        if len({keys.partition_of_sku(s) for s in picked}) == lines:
            orders.append([Line(s, rng.choice(locations), 1) for s in picked])
    return orders


def _reserve_op(engine: Engine, orders: list[list[Line]]) -> Op:
    reserve, mask = engine.reservations.reserve, ARG_CYCLE - 1

    async def op(i: int) -> object:
        outcome = await reserve(f"bench-{i}", Channel.online, orders[i & mask])
        if outcome.result is not ReserveResult.reserved:
            raise BenchFailure(f"reservation bench-{i} was {outcome.result}, not reserved")
        return outcome

    return op


def _scenarios(
    engine: Engine, client: redis.asyncio.Redis, skus: list[str], locations: list[str]
) -> list[Scenario]:
    rng = random.Random(20261122)
    mask = ARG_CYCLE - 1
    pairs = [(rng.choice(skus), rng.choice(locations)) for _ in range(ARG_CYCLE)]
    position_keys = [keys.position(s, loc) for s, loc in pairs]
    trivial = Script("bench_trivial", TRIVIAL_LUA)
    transport, availability = engine.redis, engine.availability

    async def redis_py_hget(i: int) -> object:
        return await client.hget(position_keys[i & mask], "oh")

    async def redis_py_evalsha(i: int) -> object:
        return await client.evalsha(trivial.sha, 1, position_keys[i & mask])

    async def transport_hget(i: int) -> object:
        return await transport.command("HGET", position_keys[i & mask], "oh")

    async def transport_evalsha(i: int) -> object:
        return await transport.run(trivial, [position_keys[i & mask]], [])

    async def position(i: int) -> object:
        return await availability.position(*pairs[i & mask])

    async def positions(i: int) -> object:
        return await availability.positions(skus, locations)

    one, many = (_orders(skus, locations, n, rng) for n in (1, ORDER_LINES))
    return [
        Scenario(HGET, redis_py_hget),
        Scenario(EVALSHA, redis_py_evalsha),
        # The engine's transport alone: splits the transport's cost from the engine's.
        Scenario("transport HGET", transport_hget, HGET),
        Scenario("transport EVALSHA", transport_evalsha, EVALSHA),
        Scenario("position", position, HGET),
        Scenario(
            f"positions {BATCH_SKUS}x{BATCH_LOCATIONS}", positions, HGET, len(skus) * len(locations)
        ),
        Scenario("reserve 1 line", _reserve_op(engine, one), EVALSHA),
        Scenario(f"reserve {ORDER_LINES} lines", _reserve_op(engine, many), EVALSHA),
    ]


async def _check_setup(engine: Engine, skus: list[str], locations: list[str]) -> None:
    rows = await engine.availability.positions(skus, locations)
    if len(rows) != len(skus) * len(locations) or any(p.on_hand != SEED_ON_HAND for p in rows):
        raise BenchFailure("seeded positions do not read back as seeded")


async def _redis_cpu_ns(client: redis.asyncio.Redis) -> int:
    cpu = await client.info("cpu")
    seconds = float(cpu["used_cpu_sys_main_thread"]) + float(cpu["used_cpu_user_main_thread"])
    return int(seconds * NS_PER_S)


async def _measure(client: redis.asyncio.Redis, op: Op, callers: int, mode: Mode) -> Samples:
    await closed_loop.run(op, callers, mode.warmup_s)
    closed_loop.settle_gc()
    redis_cpu_start_ns = await _redis_cpu_ns(client)
    samples = await closed_loop.run(op, callers, mode.measure_s)
    samples.server_cpu_ns = await _redis_cpu_ns(client) - redis_cpu_start_ns
    return samples


async def _measure_all(
    client: redis.asyncio.Redis, scenarios: list[Scenario], mode: Mode
) -> list[Measured]:
    pooled: dict[tuple[str, int], Samples] = {}
    for _ in range(mode.rounds):
        for callers in CALLER_COUNTS:
            for s in scenarios:
                samples = await _measure(client, s.op, callers, mode)
                key = (s.name, callers)
                pooled[key] = pooled[key] + samples if key in pooled else samples
    return [
        Measured(s.name, c, s.baseline, s.positions_per_call, summarize(pooled[(s.name, c)]))
        for c in CALLER_COUNTS
        for s in scenarios
    ]


async def _run(
    url: str, mode: Mode, command: str, notes: list[str]
) -> tuple[Report, list[Measured]]:
    started_s, date = time.monotonic(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    engine = Engine.connect(url)  # the sweeper is not started: nothing expires mid-run
    try:
        server = await client.info("server")
        await client.flushdb()
        await client.script_load(TRIVIAL_LUA)
        skus = [f"BENCH-{n:03d}" for n in range(BATCH_SKUS)]
        locations = [f"L{n:02d}" for n in range(BATCH_LOCATIONS)]
        await _seed(engine, skus, locations)
        await _check_setup(engine, skus, locations)
        scenarios = _scenarios(engine, client, skus, locations)
        load_start, cpu_start = load_average(), cpu_snapshot()
        gc.collect()
        gc.freeze()
        measured = await _measure_all(client, scenarios, mode)
        hot = await hot_sku(engine, mode.hot_s)
        cpu = cpu_use(cpu_start, cpu_snapshot(), int(server["process_id"]))
    finally:
        await client.flushdb()  # leave the shared Redis as found
        await engine.close()
        await client.aclose()
    report = Report(
        benchmark="bench.engine",
        date=date,
        command=command,
        mode=mode.name,
        duration_s=round(time.monotonic() - started_s, 1),
        machine=machine(str(server["redis_version"]), PACKAGES),
        redis_pid=int(server["process_id"]),
        load_average_start=load_start,
        load_average_end=load_average(),
        cpu_use=cpu,
        notes=notes,
        figures=engine_report.figures(measured, hot),
        targets=engine_report.targets(measured, hot),
        hot_sku=hot,
    )
    return report, measured


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under a minute in all")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    parser.add_argument("--redis-url", default=REDIS_URL_DEFAULT, help="a database it may flush")
    parser.add_argument(
        "--no-results-md", action="store_true", help=f"do not update {RESULTS_MD.name}"
    )
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _arguments(argv)
    mode = QUICK if args.quick else FULL
    command = shlex.join(["python", "-m", "bench.engine", *argv])
    notes: list[str] = []
    report, measured = uvloop.run(_run(args.redis_url, mode, command, notes))
    print(render.text(report, measured))
    if args.json:
        write_json(args.json, report)
    if not args.no_results_md:
        section = render.markdown_section(report, measured)
        update_markdown_section(RESULTS_MD, render.SECTION_TITLE, section, RESULTS_PREAMBLE)
    hot = report.hot_sku
    return 0 if hot.reserved == hot.units_total and not hot.failures else 1


if __name__ == "__main__":
    sys.exit(main())
