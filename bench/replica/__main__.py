"""The in-memory replica: memory per position, load time, read latency, lag under writes.

python -m bench.replica [--quick] [--json FILE] [--redis-url URL] [--write-rate N]
    [--writers N] [--lag-rounds N] [--lag-load reservations|events|both] [--lag-only]
    [--writer-nice N] [--cprofile-tail]
Targets (issue 6): <= 64 bytes per position at 1M positions; replica lag p99 <= 20 ms under
2k reservations/s. The lag part (bench/replica/lag.py) runs the replica in a process of its
own and the writers in others (paced, open loop); then, to isolate the replica, the same
stream traffic injected without the reservations. HTTP-level read figures come from the
HTTP benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shlex
import sys
import time
from array import array
from pathlib import Path

import uvloop

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.model import Channel
from atp.packed import PackedPositions
from atp.redis_io import PipelinedRedis
from atp.replica import Replica
from bench.common.cli import refuse_database_zero
from bench.common.machine import machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import NS_PER_US, Figure, Target, format_table, percentile_ns, target
from bench.replica import lag as replica_lag
from bench.replica import report as replica_report
from bench.replica.lag import LagConfig, LagResult
from engine.local import Engine

SECTION = "In-memory replica (python -m bench.replica)"
LOCATIONS = 50
FULL_POSITIONS, QUICK_POSITIONS = 1_000_000, 200_000
# Lag under writes (bench/replica/lag.py): warm-up and measured window, seconds.
FULL_LAG_S, QUICK_LAG_S = (5.0, 15.0), (2.0, 5.0)
WRITE_RATE_PER_S = 2_000
SEED_CHUNK = 5_000
READ_SAMPLES = 100_000
HALF_THE_PARTITIONS = frozenset(range(LEDGER_PARTITIONS // 2))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


async def _seed(url: str, positions: int) -> None:
    """Positions written straight into their hashes (no events): a large ledger, fast."""
    redis = PipelinedRedis.from_url(url)
    await redis.command("FLUSHDB")
    rng = random.Random(5)
    skus = positions // LOCATIONS
    pending = []
    for s in range(skus):
        for loc in range(LOCATIONS):
            key = keys.position(f"SKU-{s:06d}", f"L{loc:02d}")
            pending.append(
                redis.command("HSET", key, "oh", rng.randint(0, 40), "rs", 0, "sf", 1, "in", 0)
            )
            if len(pending) >= SEED_CHUNK:
                await asyncio.gather(*pending)
                pending = []
    await asyncio.gather(*pending)
    await redis.close()


def _packed_bytes(packed: PackedPositions) -> int:
    names = sum(sys.getsizeof(k) for k in packed.sku_index) + sum(
        sys.getsizeof(k) for k in packed.location_index
    )
    containers = sys.getsizeof(packed.sku_index) + sys.getsizeof(packed.location_index)
    return packed.array_bytes() + names + containers + sys.getsizeof(packed.columns)


def _cell(*values: object) -> tuple[object, ...]:
    return values


def _read_latencies(replica: Replica, skus: int, batch: bool) -> array[int]:
    rng = random.Random(9)
    samples = array("q")
    locations = [f"L{i:02d}" for i in range(20)]
    for _ in range(READ_SAMPLES // (2_000 if batch else 1)):
        picked = [f"SKU-{rng.randrange(skus):06d}" for _ in range(100 if batch else 1)]
        started = time.perf_counter_ns()
        if batch:
            replica.positions.grid(picked, locations, Channel.online, _cell)
        else:
            replica.positions.position(picked[0], "L07")
        samples.append(time.perf_counter_ns() - started)
    return samples


async def _redis_pid(url: str) -> int:
    redis = PipelinedRedis.from_url(url)
    info = str(await redis.command("INFO", "server"))
    await redis.close()
    return int(info.split("process_id:", 1)[1].split()[0])


async def _lags(url: str, quick: bool, options: argparse.Namespace) -> list[LagResult]:
    """The lag under reservations, then (the replica alone) under their events injected."""
    warmup_s, measure_s = QUICK_LAG_S if quick else FULL_LAG_S
    rounds = ["reservations"] * options.lag_rounds
    loads = [*rounds, "events"] if options.lag_load == "both" else [options.lag_load] * len(rounds)
    configs = [
        LagConfig(
            url,
            rate_per_s=options.write_rate,
            writers=options.writers,
            warmup_s=warmup_s,
            measure_s=options.lag_seconds or measure_s,
            cprofile=options.cprofile_tail,
            load=load,
            writer_nice=options.writer_nice,
        )
        for load in loads
    ]
    try:
        return [await replica_lag.measure(c, await _redis_pid(url)) for c in configs]
    finally:
        redis = PipelinedRedis.from_url(url)
        await redis.command("FLUSHDB")  # leave the database as found: empty
        await redis.close()


async def _half_the_partitions(url: str, positions: int) -> list[Figure]:
    """A replica of partitions 0-15 only (ATP_REPLICA_PARTITIONS=0-15): what it holds and
    costs, per position of the whole ledger."""
    engine = Engine.connect(url, replica=True, replica_partitions=HALF_THE_PARTITIONS)
    started = time.perf_counter()
    await engine.start_replica()
    load_s = time.perf_counter() - started
    assert engine.replica is not None
    held = len(engine.replica.positions.sku_index) * LOCATIONS
    per_ledger_position = _packed_bytes(engine.replica.positions) / positions
    await engine.close()
    return [
        Figure("half the partitions (0-15): positions held", held, "positions"),
        Figure("half the partitions: load time", round(load_s, 2), "s"),
        Figure(
            "half the partitions: structures per ledger position",
            round(per_ledger_position, 1),
            "bytes",
        ),
    ]


async def run(
    url: str, quick: bool, options: argparse.Namespace
) -> tuple[list[Figure], list[Target], list[LagResult]]:
    positions = QUICK_POSITIONS if quick else FULL_POSITIONS
    await _seed(url, positions)
    if options.lag_only:
        lags = await _lags(url, quick, options)
        return replica_report.figures(lags), replica_report.targets(lags), lags
    gc.collect()
    rss_before = _rss_bytes()
    engine = Engine.connect(url, replica=True)
    started = time.perf_counter()
    await engine.start_replica()
    load_s = time.perf_counter() - started
    assert engine.replica is not None
    gc.collect()
    rss_per = (_rss_bytes() - rss_before) / positions
    packed_per = _packed_bytes(engine.replica.positions) / positions
    single = sorted(_read_latencies(engine.replica, positions // LOCATIONS, batch=False))
    batch = sorted(_read_latencies(engine.replica, positions // LOCATIONS, batch=True))
    await engine.close()
    half = await _half_the_partitions(url, positions)
    lags = await _lags(url, quick, options)
    figures = [
        Figure("positions loaded", positions, "positions"),
        Figure("load time", round(load_s, 2), "s"),
        Figure("replica structures per position", round(packed_per, 1), "bytes"),
        Figure("process RSS growth per position", round(rss_per, 1), "bytes"),
        *half,
        Figure("single read p50", percentile_ns(single, 50) / NS_PER_US, "us"),
        Figure("single read p99", percentile_ns(single, 99) / NS_PER_US, "us"),
        Figure("100x20 batch read p50", percentile_ns(batch, 50) / NS_PER_US, "us"),
        Figure("100x20 batch read p99", percentile_ns(batch, 99) / NS_PER_US, "us"),
        *replica_report.figures(lags),
    ]
    targets = [
        target("bytes per position (RSS growth)", round(rss_per, 1), 64, "bytes", "at_most"),
        *replica_report.targets(lags),
    ]
    return figures, targets, lags


def _report(
    figures: list[Figure],
    targets: list[Target],
    lags: list[LagResult],
    command: str,
    markdown: bool,
) -> str:
    rows = [
        (
            f.name,
            f"{f.value:,.2f}" if f.unit in ("ms", "cores", "s/s") else f"{f.value:,.1f}",
            f.unit,
        )
        for f in figures
    ]
    goal_rows = [
        (
            t.name,
            f"{t.measured:,.1f} {t.unit}",
            f"{t.bound} {t.limit:g}",
            "met" if t.met else "NOT MET",
        )
        for t in targets
    ]
    info = machine("", ("redis", "hiredis", "uvloop"))
    head = (
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n- Command: `{command}`\n"
        f"- Machine: {info.cpus} CPUs, {info.cpu_model}; Python {info.python}\n"
        f"- {LOCATIONS} locations; reads are in-process (no HTTP).\n"
        + replica_report.notes(lags)
        + "\n"
    )
    costs = replica_report.costs_table(replica_report.chosen(lags)[0], markdown)
    rounds = replica_report.rounds_table(lags, markdown)
    return (
        (head if markdown else replica_report.notes(lags) + "\n")
        + format_table(("figure", "value", "unit"), rows, markdown)
        + "\n\n"
        + format_table(("target", "measured", "limit", "result"), goal_rows, markdown)
        + "\n"
        + (f"\n{rounds}\n" if rounds else "")
        + (f"\n{costs}\n" if costs else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica")
    parser.add_argument("--quick", action="store_true", help="200k positions, 5 s of writes")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--no-results-md", action="store_true")
    parser.add_argument("--write-rate", type=float, default=WRITE_RATE_PER_S, help="holds/s")
    parser.add_argument("--writers", type=int, default=0, help="writer processes (0: auto)")
    parser.add_argument("--lag-seconds", type=float, default=0, help="measured window")
    parser.add_argument(
        "--lag-only", action="store_true", help="skip memory/load/read figures (no RESULTS.md)"
    )
    parser.add_argument("--cprofile-tail", action="store_true", help="cProfile the replica")
    parser.add_argument(
        "--lag-rounds",
        type=int,
        default=1,
        help="runs under reservations; the one with the least CPU used by others is reported",
    )
    parser.add_argument(
        "--writer-nice",
        type=int,
        default=0,
        help="niceness added to the writer processes (they stand in for other hosts)",
    )
    parser.add_argument(
        "--lag-load",
        choices=("reservations", "events", "both"),
        default="both",
        help="writers through the Engine, their stream entries injected, or both in turn",
    )
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    figures, targets, lags = uvloop.run(run(args.redis_url, args.quick, args))
    command = shlex.join(["python", "-m", "bench.replica", *(argv or sys.argv[1:])])
    print(_report(figures, targets, lags, command, markdown=False))
    for lag in lags:
        print(lag.cprofile_top)
    if args.json:
        write_json(args.json, {"figures": figures, "targets": targets, "lags": lags})
    if not (args.no_results_md or args.lag_only):
        report = _report(figures, targets, lags, command, True)
        update_markdown_section(RESULTS_MD, SECTION, report, "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    assert LEDGER_PARTITIONS > 0
    sys.exit(main())
