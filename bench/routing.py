"""Routing benchmark: plan latency through the engine (availability fetch included) for 1, 5
and 20 lines over 50 and 200 candidates, and the optimality check against the MILP.
``python -m bench.routing [--quick] [--optimality N] [--json FILE]``.

One caller, closed loop, on the local Redis: the figure is one plan's latency, not a
throughput. The pure plan() is timed on the same orders so the fetch's share shows.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import argparse
import asyncio
import gc
import random
import shlex
import sys
import time
from array import array
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import msgspec
import redis.asyncio
import uvloop

from atp.engine import Engine
from bench._machine import CpuUse, Machine, cpu_snapshot, cpu_use, load_average, machine
from bench._stats import (
    Samples,
    Summary,
    Target,
    format_table,
    summarize,
    target,
    update_markdown_section,
    write_json,
)
from routing.directory import InMemoryDirectory, Location
from routing.instances import candidates
from routing.model import Order, OrderLine, Policy, ShipTo
from routing.optimality import Figures, check, figures
from routing.plan import plan
from routing.service import candidates_for, plan_order

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/10"
RESULTS_MD = Path(__file__).with_name("RESULTS.md")
PREAMBLE = "# Benchmark results\n"
PACKAGES = ("msgspec", "scipy", "numpy", "redis", "hiredis", "uvloop")
LINES = (1, 5, 20)
CANDIDATES = (50, 200)
SKU_POOL = 400
SEED_CONCURRENCY_MAX = 500
P99_TARGET_US = 2_000.0  # the issue: p99 <= 2 ms for 5 lines over 50 candidates
WITHIN_SHARE_TARGET = 0.99


class Mode(msgspec.Struct, frozen=True):
    name: str
    plans: int  # per scenario
    optimality: int  # instances against the MILP


QUICK = Mode("quick", plans=100, optimality=150)
FULL = Mode("full", plans=1_000, optimality=1_000)


class Scenario(msgspec.Struct, frozen=True):
    lines: int
    candidates: int
    engine: Summary  # plan_order: directory, availability fetch, plan
    pure: Summary  # plan() alone, on the same candidates
    shipments_mean: float
    proven_optimal_share: float


class Report(msgspec.Struct, frozen=True):
    benchmark: str
    date: str
    command: str
    mode: str
    duration_s: float
    machine: Machine
    load_average_start: tuple[float, float, float]
    cpu_use: CpuUse
    scenarios: list[Scenario]
    optimality: Figures
    targets: list[Target]


async def _network(engine: Engine, count: int) -> InMemoryDirectory:
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
            Location(
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


def _orders(lines: int, n: int) -> list[Order]:
    rng = random.Random(lines * 7919 + n)
    orders = []
    for _ in range(n):
        skus = [f"RB-{k:03d}" for k in rng.sample(range(SKU_POOL), lines)]
        order_lines = [OrderLine(s, rng.choice((1, 1, 2))) for s in skus]
        point = ShipTo(rng.uniform(58.5, 61.4), rng.uniform(7.8, 13.7))
        orders.append(Order(order_lines, point))
    return orders


async def _scenario(
    engine: Engine, directory: InMemoryDirectory, lines: int, count: int, plans: int
) -> Scenario:
    orders, policy = _orders(lines, plans), Policy()
    for o in orders[: max(1, plans // 10)]:  # warm-up: scripts loaded, caches filled
        await plan_order(engine, o, directory, policy)
    engine_ns, pure_ns = array("q"), array("q")
    shipments = proven = 0
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    for o in orders:
        t0 = time.perf_counter_ns()
        await plan_order(engine, o, directory, policy)
        engine_ns.append(time.perf_counter_ns() - t0)
    engine_samples = Samples(engine_ns, time.perf_counter_ns() - wall, time.process_time_ns() - cpu)
    fetched = [await candidates_for(engine, o, directory) for o in orders]
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    for o, cands in zip(orders, fetched, strict=True):
        t0 = time.perf_counter_ns()
        result = plan(o, cands, policy)
        pure_ns.append(time.perf_counter_ns() - t0)
        shipments += len(result.shipments)
        proven += result.proven_optimal
    pure_samples = Samples(pure_ns, time.perf_counter_ns() - wall, time.process_time_ns() - cpu)
    return Scenario(
        lines,
        count,
        summarize(engine_samples),
        summarize(pure_samples),
        round(shipments / plans, 2),
        round(proven / plans, 3),
    )


async def _latency(url: str, mode: Mode) -> tuple[list[Scenario], str, int]:
    client = redis.asyncio.Redis.from_url(url)
    engine = Engine.connect(url)
    try:
        server = await client.info("server")
        await client.flushdb()
        scenarios = []
        for count in CANDIDATES:
            directory = await _network(engine, count)
            gc.collect()
            for lines in LINES:
                scenarios.append(await _scenario(engine, directory, lines, count, mode.plans))
    finally:
        await client.flushdb()  # leave the database as found
        await engine.close()
        await client.aclose()
    return scenarios, str(server["redis_version"]), int(server["process_id"])


def _targets(scenarios: list[Scenario], f: Figures) -> list[Target]:
    [five] = [s for s in scenarios if (s.lines, s.candidates) == (5, 50)]
    return [
        target(
            "plan p99, 5 lines x 50 candidates",
            five.engine.latency_us_p99,
            P99_TARGET_US,
            "us",
            "at_most",
        ),
        target(
            "instances within 1% of the MILP optimum",
            f.within_1pct_share,
            WITHIN_SHARE_TARGET,
            "share",
            "at_least",
        ),
        target(
            "cannot fulfil while a plan exists",
            f.cannot_fulfil_when_feasible,
            0,
            "instances",
            "equal",
        ),
    ]


def _markdown(r: Report) -> str:
    rows = [
        [
            f"{s.lines} x {s.candidates}",
            f"{s.engine.latency_us_p50:.0f}",
            f"{s.engine.latency_us_p99:.0f}",
            f"{s.pure.latency_us_p50:.0f}",
            f"{s.pure.latency_us_p99:.0f}",
            f"{s.shipments_mean:.2f}",
            f"{s.proven_optimal_share:.3f}",
        ]
        for s in r.scenarios
    ]
    latency = format_table(
        [
            "lines x candidates",
            "engine p50 us",
            "engine p99 us",
            "plan() p50 us",
            "plan() p99 us",
            "shipments",
            "proven",
        ],
        rows,
        markdown=True,
    )
    f = r.optimality
    optimality = format_table(
        [
            "instances",
            "feasible",
            "within 1%",
            "share",
            "worst gap",
            "cannot fulfil when feasible",
            "proven optimal",
            "plan max ms",
            "MILP total s",
        ],
        [
            [
                str(f.instances),
                str(f.feasible),
                str(f.within_1pct),
                f"{f.within_1pct_share:.4f}",
                f"{f.worst_gap:.2e}",
                str(f.cannot_fulfil_when_feasible),
                str(f.proven_optimal),
                f"{f.plan_ms_max:.0f}",
                f"{f.milp_ms_total / 1000:.1f}",
            ]
        ],
        markdown=True,
    )
    goals = format_table(
        ["target", "measured", "limit", "met"],
        [
            [t.name, f"{t.measured:g} {t.unit}", f"{t.bound} {t.limit:g}", "yes" if t.met else "NO"]
            for t in r.targets
        ],
        markdown=True,
    )
    m, cpu = r.machine, r.cpu_use
    packages = ", ".join(f"{k} {v}" for k, v in m.packages.items())
    header = (
        f"`{r.command}` on {r.date}, {r.duration_s} s. {m.cpus} CPUs ({m.cpu_model}), "
        f"Python {m.python}, Redis {m.redis_server}; {packages}. Load average at start "
        f"{r.load_average_start}; core shares during the run: this process "
        f"{cpu.own_core_share}, Redis {cpu.redis_core_share}, others {cpu.others_core_share}."
    )
    return "\n\n".join(
        [
            header,
            "Plan latency, one caller, default policy; engine = directory + availability "
            "fetch + plan, plan() = the pure core alone on the same candidates:",
            latency,
            "Optimality against `scipy.optimize.milp` (HiGHS) on seeded random instances "
            "(1-20 lines, 10-200 candidates, varied policies):",
            optimality,
            goals,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under a minute in all")
    parser.add_argument("--optimality", type=int, metavar="N", help="instances against the MILP")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    parser.add_argument("--redis-url", default=REDIS_URL_DEFAULT, help="a database it may flush")
    parser.add_argument(
        "--no-results-md", action="store_true", help=f"do not update {RESULTS_MD.name}"
    )
    args = parser.parse_args(argv)
    if not int(urlparse(args.redis_url).path.lstrip("/") or 0):
        parser.error("--redis-url must name a database other than 0: the benchmark flushes it")
    mode = QUICK if args.quick else FULL
    if args.optimality:
        mode = msgspec.structs.replace(mode, optimality=args.optimality)
    started = time.monotonic()
    load_start, cpu_start = load_average(), cpu_snapshot()
    scenarios, version, redis_pid = uvloop.run(_latency(args.redis_url, mode))
    f = figures([check(seed) for seed in range(mode.optimality)])
    report = Report(
        benchmark="bench.routing",
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=shlex.join(["python", "-m", "bench.routing", *argv]),
        mode=mode.name,
        duration_s=round(time.monotonic() - started, 1),
        machine=machine(version, PACKAGES),
        load_average_start=load_start,
        cpu_use=cpu_use(cpu_start, cpu_snapshot(), redis_pid),
        scenarios=scenarios,
        optimality=f,
        targets=_targets(scenarios, f),
    )
    text = _markdown(report)
    print(text)
    if args.json:
        write_json(args.json, report)
    if not args.no_results_md:
        update_markdown_section(RESULTS_MD, f"Routing ({mode.name})", text, PREAMBLE)
    return 0 if all(t.met for t in report.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
