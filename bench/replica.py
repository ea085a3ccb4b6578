"""The in-memory replica: memory per position, load time, read latency, lag under writes.

python -m bench.replica [--quick] [--json FILE] [--redis-url URL]
Targets (issue 6): <= 64 bytes per position at 1M positions; replica lag p99 <= 20 ms under
2k reservations/s. HTTP-level read figures come from the HTTP benchmark.
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
from atp.engine import Engine
from atp.limits import LEDGER_PARTITIONS
from atp.packed import PackedPositions
from atp.redis_io import PipelinedRedis
from atp.replica import Replica
from bench._machine import machine
from bench._stats import (
    NS_PER_US,
    Figure,
    Target,
    format_table,
    percentile_ns,
    target,
    update_markdown_section,
    write_json,
)

RESULTS_MD = Path(__file__).with_name("RESULTS.md")
SECTION = "In-memory replica (python -m bench.replica)"
LOCATIONS = 50
FULL_POSITIONS, QUICK_POSITIONS = 1_000_000, 200_000
FULL_WRITE_S, QUICK_WRITE_S = 20, 5
WRITE_RATE_PER_S = 2_000
WRITER_INFLIGHT_MAX = 64
SEED_CHUNK = 5_000
READ_SAMPLES = 100_000

_WRITER = """
import asyncio, sys, time, uvloop
from atp.engine import Engine
from reservations.model import Line

async def main(url, rate, seconds, skus):
    engine = Engine.connect(url)
    gate = asyncio.Semaphore(int(sys.argv[5]))
    done = 0
    async def one(n):
        nonlocal done
        async with gate:
            line = [Line(f"HOT-{n % skus}", "WH-1", 1)]
            if (await engine.reservations.reserve(f"lag-{n}", "online", line, 60)).ok:
                await engine.reservations.release(f"lag-{n}")
            done += 1
    start = time.perf_counter(); tasks = []; n = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        while n < elapsed * rate:
            tasks.append(asyncio.create_task(one(n))); n += 1
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    print(done / (time.perf_counter() - start))
    await engine.close()

uvloop.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
"""


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


def _read_latencies(replica: Replica, skus: int, batch: bool) -> array[int]:
    rng = random.Random(9)
    samples = array("q")
    locations = [f"L{i:02d}" for i in range(20)]
    for _ in range(READ_SAMPLES // (2_000 if batch else 1)):
        picked = [f"SKU-{rng.randrange(skus):06d}" for _ in range(100 if batch else 1)]
        started = time.perf_counter_ns()
        if batch:
            replica.positions.rows(picked, locations)
        else:
            replica.positions.position(picked[0], "L07")
        samples.append(time.perf_counter_ns() - started)
    return samples


async def _lag(url: str, seconds: int) -> tuple[array[int], float]:
    engine = Engine.connect(url, replica=True)
    for n in range(200):
        await engine.stock.adjust(f"HOT-{n}", "WH-1", 1_000_000, "receipt")
    await engine.start_replica()
    assert engine.replica is not None
    engine.replica.lag_ms.clear()
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WRITER,
        url,
        str(WRITE_RATE_PER_S),
        str(seconds),
        "200",
        str(WRITER_INFLIGHT_MAX),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(writer.communicate(), timeout=seconds + 60)
    await asyncio.sleep(0.2)
    lags = array("q", (int(v * NS_PER_US * 1000) for v in engine.replica.lag_ms))
    await engine.close()
    return lags, float(out.decode().strip() or 0)


async def run(url: str, quick: bool) -> tuple[list[Figure], list[Target], dict[str, float]]:
    positions = QUICK_POSITIONS if quick else FULL_POSITIONS
    await _seed(url, positions)
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
    lags, write_rate = await _lag(url, QUICK_WRITE_S if quick else FULL_WRITE_S)
    lag = sorted(lags)
    ms = NS_PER_US * 1000
    figures = [
        Figure("positions loaded", positions, "positions"),
        Figure("load time", round(load_s, 2), "s"),
        Figure("replica structures per position", round(packed_per, 1), "bytes"),
        Figure("process RSS growth per position", round(rss_per, 1), "bytes"),
        Figure("single read p50", percentile_ns(single, 50) / NS_PER_US, "us"),
        Figure("single read p99", percentile_ns(single, 99) / NS_PER_US, "us"),
        Figure("100x20 batch read p50", percentile_ns(batch, 50) / NS_PER_US, "us"),
        Figure("100x20 batch read p99", percentile_ns(batch, 99) / NS_PER_US, "us"),
        Figure("write load achieved", round(write_rate), "reservations/s"),
        Figure("replica lag p50", percentile_ns(lag, 50) / ms, "ms"),
        Figure("replica lag p99", percentile_ns(lag, 99) / ms, "ms"),
        Figure("replica lag max", lag[-1] / ms, "ms"),
    ]
    targets = [
        target("bytes per position (RSS growth)", round(rss_per, 1), 64, "bytes", "at_most"),
        target("replica lag p99", percentile_ns(lag, 99) / ms, 20, "ms", "at_most"),
    ]
    return figures, targets, {"positions": positions}


def _report(figures: list[Figure], targets: list[Target], command: str, markdown: bool) -> str:
    rows = [(f.name, f"{f.value:,.1f}", f.unit) for f in figures]
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
        f"- {LOCATIONS} locations; reads are in-process (no HTTP); the lag is the time from "
        "Redis stamping an event (its stream id) to this process applying it, while a second "
        f"process makes {WRITE_RATE_PER_S} reservations/s (each released again).\n\n"
    )
    return (
        (head if markdown else "")
        + format_table(("figure", "value", "unit"), rows, markdown)
        + "\n\n"
        + format_table(("target", "measured", "limit", "result"), goal_rows, markdown)
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica")
    parser.add_argument("--quick", action="store_true", help="200k positions, 5 s of writes")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--no-results-md", action="store_true")
    args = parser.parse_args(argv)
    if args.redis_url.rstrip("/").endswith("/0"):
        parser.error("refusing database 0: the benchmark flushes its database")
    figures, targets, _ = uvloop.run(run(args.redis_url, args.quick))
    command = shlex.join(["python", "-m", "bench.replica", *(argv or sys.argv[1:])])
    print(_report(figures, targets, command, markdown=False))
    if args.json:
        write_json(args.json, {"figures": figures, "targets": targets})
    if not args.no_results_md:
        update_markdown_section(
            RESULTS_MD, SECTION, _report(figures, targets, command, True), "# Benchmark results\n"
        )
    return 0


if __name__ == "__main__":
    assert LEDGER_PARTITIONS > 0
    sys.exit(main())
