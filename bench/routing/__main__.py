"""Routing benchmark: plan latency through the engine (availability fetch included) for 1, 5
and 20 lines over 50 and 200 candidates, and the optimality check against the MILP.
``python -m bench.routing [--quick] [--optimality N] [--json FILE] [--redis-url URL]``.

One caller, closed loop, on the local Redis: the figure is one plan's latency, not a
throughput. Each order is planned by an engine reading its in-memory replica and by one
reading Redis, alternately (bench/routing/run.py); the pure plan() is timed on the same
candidates. The report goes to bench/out/routing-results.md (bench/RESULTS.md is merged
by hand).
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import argparse
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import uvloop

from bench.common.cli import refuse_database_zero
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import OUT, update_markdown_section, write_json
from bench.routing.report import Report, markdown, targets
from bench.routing.run import latency
from oracles.optimality import check, figures

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/10"
RESULTS_MD = OUT / "routing-results.md"
PREAMBLE = "# Routing benchmark results\n"
PACKAGES = ("msgspec", "scipy", "numpy", "redis", "hiredis", "uvloop")


class Mode(msgspec.Struct, frozen=True):
    name: str
    plans: int  # per scenario
    optimality: int  # instances against the MILP


QUICK = Mode("quick", plans=100, optimality=150)
FULL = Mode("full", plans=1_000, optimality=1_000)


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
    refuse_database_zero(parser, args.redis_url)
    mode = QUICK if args.quick else FULL
    if args.optimality:
        mode = msgspec.structs.replace(mode, optimality=args.optimality)
    started = time.monotonic()
    load_start, cpu_start = load_average(), cpu_snapshot()
    scenarios, version, redis_pid = uvloop.run(latency(args.redis_url, mode.plans))
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
        targets=targets(scenarios, f),
    )
    text = markdown(report)
    print(text)
    if args.json:
        write_json(args.json, report)
    if not args.no_results_md:
        update_markdown_section(RESULTS_MD, f"Routing ({mode.name})", text, PREAMBLE)
    return 0 if all(t.met for t in report.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
