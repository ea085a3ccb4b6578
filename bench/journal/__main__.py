"""Journal benchmark: events/s into PostgreSQL, the latency the durability wait adds to a
commit, and the time to rebuild the ledger. ``python -m bench.journal [--quick] [--json F]``.

Runs on a private redis-server (loopback port 7200-7289, killed at the end) and the
database atp_j_bench of the local PostgreSQL (dropped and re-created). Figures on a shared
2-core machine move from run to run; the load of other processes is recorded beside them.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import argparse
import asyncio
import subprocess
import sys
import time
from array import array
from pathlib import Path

import asyncpg
import msgspec

from atp.redis_connect import connect
from atp.redis_io import RedisIO
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import target
from bench.journal.report import FULL, QUICK, WRITERS, Report, render
from bench.journal.server import PrivateRedis
from durability.db import create_database
from durability.group_commit import Durability, touched_partitions
from durability.migrate import migrate
from durability.rebuild import ensure_ledger, rebuild
from durability.writer import JournalWriter, create_groups
from engine.local import Engine
from reservations.model import Line

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/atp_j_bench"
PREAMBLE = "# Benchmark results\n"
PRODUCE_CONCURRENCY = 2_000
COMMIT_RATE_PER_S = 1_000
FAST_COMMIT_RATE_PER_S = 5_000  # the same commits again, to say what one costs at 5k/s
PG_COMMIT_SAMPLES = 200
PACKAGES = ("asyncpg", "redis", "hiredis", "msgspec")


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def _pct(values: array[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q / 100 * len(ordered) + 0.5) - 1))]


async def fresh_database() -> asyncpg.Pool:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute("DROP DATABASE IF EXISTS atp_j_bench WITH (FORCE)")
    finally:
        await admin.close()
    await create_database(PG_DSN)
    pool = await asyncpg.create_pool(PG_DSN, min_size=2, max_size=4)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    return pool


async def produce(engine: Engine, count: int) -> None:
    """``count`` real ledger events (receipts over 10k SKUs x 5 locations)."""
    for start in range(0, count, PRODUCE_CONCURRENCY):
        n = min(PRODUCE_CONCURRENCY, count - start)
        await asyncio.gather(
            *(
                engine.stock.adjust(f"SKU-{i % 10_000}", f"L{i % 5}", 1, "receipt")
                for i in range(start, start + n)
            )
        )


async def bench_writer(redis: RedisIO, pool: asyncpg.Pool, engine: Engine, report: Report) -> None:
    await produce(engine, report.sizes.events)
    # Two consumers of the group in one process: one parses while the other's batch is in
    # PostgreSQL (as `atp journal --consumers 2` runs).
    writers = [JournalWriter(redis, pool, f"bench-{i}") for i in range(WRITERS)]
    report.journal_batch_max = writers[0].per_partition * 32
    started = time.perf_counter()
    written = sum(await asyncio.gather(*(w.drain() for w in writers)))
    elapsed = time.perf_counter() - started
    assert written == report.sizes.events, (written, report.sizes.events)
    report.journal_events_per_s = round(written / elapsed)


def _line(i: int) -> Line:
    """A position ``produce`` stocked (SKU i mod 10k at location i mod 5)."""
    return Line(f"SKU-{i % 10_000}", f"L{i % 5}", 1)


async def bench_durability(
    redis: RedisIO, pool: asyncpg.Pool, engine: Engine, report: Report
) -> None:
    """Commits paced at COMMIT_RATE_PER_S, then at FAST_COMMIT_RATE_PER_S."""
    slow = await _durability_run(redis, pool, engine, report.sizes.commits, COMMIT_RATE_PER_S, "R")
    report.commits_per_s_achieved = slow.achieved
    report.commit_latency_ms_p50, report.commit_latency_ms_p99 = slow.total
    report.commit_engine_ms_p50, report.commit_engine_ms_p99 = slow.own
    report.durability_wait_ms_p50, report.durability_wait_ms_p99 = slow.wait
    report.durability_flush_read_ms_mean = slow.read_ms_mean
    report.durability_flush_write_ms_mean = slow.write_ms_mean
    report.durability_events_per_flush = slow.events_per_flush
    fast = await _durability_run(
        redis, pool, engine, report.sizes.commits, FAST_COMMIT_RATE_PER_S, "F"
    )
    report.fast_commits_per_s_achieved = fast.achieved
    report.fast_commit_latency_ms_p50, report.fast_commit_latency_ms_p99 = fast.total
    report.fast_durability_wait_ms_p50, report.fast_durability_wait_ms_p99 = fast.wait
    report.fast_durability_events_per_flush = fast.events_per_flush


class _Run(msgspec.Struct, frozen=True):
    achieved: float
    total: tuple[float, float]  # p50, p99 ms
    own: tuple[float, float]
    wait: tuple[float, float]
    read_ms_mean: float
    write_ms_mean: float
    events_per_flush: float


async def _durability_run(
    redis: RedisIO, pool: asyncpg.Pool, engine: Engine, count: int, rate: int, prefix: str
) -> _Run:
    """Commits paced at ``rate`` (open loop); each then waits for the group commit. The wait
    is what durability adds; the commit itself is the engine's own cost."""
    durability = Durability(redis, pool)
    await durability.start()
    res = engine.reservations
    for start in range(0, count, PRODUCE_CONCURRENCY):
        ids = range(start, min(count, start + PRODUCE_CONCURRENCY))
        held = await asyncio.gather(
            *(res.reserve(f"{prefix}-{i}", "online", [_line(i)], 3600) for i in ids)
        )
        assert all(h.ok for h in held)
    await durability.sync()
    flushes_before, events_before = durability.flushes, durability.events_written
    durability.read_s_total = durability.write_s_total = 0.0
    total, waits, own = array("q"), array("q"), array("q")

    async def one(i: int) -> None:
        t0 = time.perf_counter_ns()
        outcome = await engine.reservations.commit(f"{prefix}-{i}")
        t1 = time.perf_counter_ns()
        await durability.sync(touched_partitions(outcome))  # as DurableEngine does
        t2 = time.perf_counter_ns()
        assert outcome.ok, outcome
        total.append(t2 - t0)
        waits.append(t2 - t1)
        own.append(t1 - t0)

    tasks = []
    started = time.perf_counter()
    launched = 0
    while launched < count:
        due = min(count, int((time.perf_counter() - started) * rate) + 1)
        while launched < due:
            tasks.append(asyncio.create_task(one(launched)))
            launched += 1
        await asyncio.sleep(0.0005)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    await durability.stop()
    flushes = max(1, durability.flushes - flushes_before)
    return _Run(
        round(count / elapsed),
        (_ms(_pct(total, 50)), _ms(_pct(total, 99))),
        (_ms(_pct(own, 50)), _ms(_pct(own, 99))),
        (_ms(_pct(waits, 50)), _ms(_pct(waits, 99))),
        round(durability.read_s_total * 1000 / flushes, 2),
        round(durability.write_s_total * 1000 / flushes, 2),
        round((durability.events_written - events_before) / flushes, 1),
    )


async def bench_pg_commit(pool: asyncpg.Pool, report: Report) -> None:
    """The floor under any group commit: one tiny write and its commit (an fsync)."""
    samples = array("q")
    async with pool.acquire() as conn:
        for i in range(PG_COMMIT_SAMPLES):
            t0 = time.perf_counter_ns()
            await conn.execute(
                "INSERT INTO skus (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET name = $1",
                f"BENCH-{i % 10}",
            )
            samples.append(time.perf_counter_ns() - t0)
    report.pg_commit_ms_p50 = _ms(_pct(samples, 50))
    report.pg_commit_ms_p99 = _ms(_pct(samples, 99))


async def bench_rebuild(redis: RedisIO, pool: asyncpg.Pool, report: Report) -> None:
    n = report.sizes.rebuild_positions
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE positions")
        await conn.execute(
            "INSERT INTO positions SELECT 'SKU-' || (i / 20), 'L' || (i % 20), 100 + i % 50,"
            " i % 3, i % 2, 0, 1, i FROM generate_series(0, $1::int - 1) AS i",
            n,
        )
        await redis.command("FLUSHDB")
        started = time.perf_counter()
        result = await rebuild(redis, conn, "benchmark")
        report.rebuild_s = round(time.perf_counter() - started, 2)
    assert result.positions == n, result
    report.rebuild_positions_per_s = round(n / report.rebuild_s)


def _redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[2]


async def run(quick: bool, version: str) -> Report:
    sizes = QUICK if quick else FULL
    server = PrivateRedis()
    redis = connect(server.url)
    report = Report("quick" if quick else "full", sizes, machine(version, PACKAGES), load_average())
    before = cpu_snapshot()
    pool = await fresh_database()
    engine = Engine(redis)
    try:
        async with pool.acquire() as conn:
            await ensure_ledger(redis, conn)
        await create_groups(redis)
        await bench_pg_commit(pool, report)
        await bench_writer(redis, pool, engine, report)
        await bench_durability(redis, pool, engine, report)
        await bench_rebuild(redis, pool, report)
    finally:
        await pool.close()
        await redis.close()
        server.stop()
    report.others_core_share = cpu_use(before, cpu_snapshot(), server.proc.pid).others_core_share
    rebuild_limit = 60.0 * sizes.rebuild_positions / FULL.rebuild_positions
    report.targets = [
        target("journal events/s", report.journal_events_per_s, 20_000, "events/s", "at_least"),
        target("durability wait p99", report.durability_wait_ms_p99, 5.0, "ms", "at_most"),
        target(f"rebuild {sizes.rebuild_positions:,} positions", report.rebuild_s,
               rebuild_limit, "s", "at_most"),
    ]  # fmt: skip
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journal", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under a minute, smaller sizes")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.quick, _redis_version()))
    text = render(report)
    print(text)
    if args.json:
        write_json(args.json, report)
    update_markdown_section(RESULTS_MD, f"Journal ({report.mode})", text, PREAMBLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
