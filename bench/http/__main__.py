"""HTTP benchmark: the API's routes beside a bare baseline app, 1 and 2 workers, one run.

``python -m bench.http [--quick] [--json FILE] [--locust]``

Each server is started by ``cli.supervisor`` (single-worker processes sharing the port with
SO_REUSEPORT) on 127.0.0.1:7320, loaded with wrk for a fixed time per route after a
warm-up, then stopped. The baseline (bench/common/baseline_app.py) runs the same stack with one
Redis HGET or one EVALSHA per request. Ratios within the run are the figures to compare
(stack-notes): wrk, the servers and Redis share the machine's cores.
"""

import argparse
import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path

import msgspec

from atp.limits import QTY_MAX
from bench.common.cli import admin_key, fresh_database, pg_dsn_option
from bench.common.machine import machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.wrk import Measure, lua, pids, wrk
from bench.http.locust import run_locust
from bench.http.report import Report, Run, figures_and_targets, markdown
from cli import supervisor as serve
from engine.local import Engine

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/13"
HOST, PORT, BASELINE_PORT = "127.0.0.1", 7320, 7321
SKUS = [f"B-{i:03d}" for i in range(100)]
LOCATIONS = ["W1", "S1"]
# One-unit holds never run it short; receipts in the locust mix stay under QTY_MAX.
SEED_ON_HAND = QTY_MAX // 2


async def _seed(url: str, dsn: str) -> str:
    engine = Engine.connect(url)
    try:
        for sku in SKUS:
            for location in LOCATIONS:
                await engine.stock.set_on_hand(sku, location, SEED_ON_HAND, reason="bench")
        return await admin_key(dsn, "bench")
    finally:
        await engine.close()


def _api_routes(key: str) -> dict[str, str]:
    batch = msgspec.json.encode({"skus": SKUS[:20], "locations": LOCATIONS}).decode()
    return {
        "GET /v1/availability/{sku}": lua(
            "GET", "/v1/availability/B-007?location=W1&location=S1", key
        ),
        "POST /v1/availability/query (20x2)": lua("POST", "/v1/availability/query", key, batch),
        "POST /v1/reservations": lua("POST", "/v1/reservations", key, unique_hold=True),
    }


def _baseline_routes(key: str) -> dict[str, str]:
    return {
        "GET /baseline/hget": lua("GET", "/baseline/hget", key),
        "POST /baseline/evalsha": lua("POST", "/baseline/evalsha", key, "{}"),
    }


Step = tuple[str, int, str, str, list[BaseProcess], int]  # kind, port, route, script, procs, conns


def _plan(
    key: str, api: list[BaseProcess], base: list[BaseProcess], c: int, low: int
) -> list[Step]:
    plan: list[Step] = [
        ("baseline", BASELINE_PORT, r, s, base, c) for r, s in _baseline_routes(key).items()
    ]
    plan += [("api", PORT, r, s, api, c) for r, s in _api_routes(key).items()]
    # The p99 target applies where the baseline's p99 is low: a lightly loaded pair too.
    evalsha, hold = "POST /baseline/evalsha", "POST /v1/reservations"
    plan.append(
        ("baseline", BASELINE_PORT, f"{evalsha} @{low}", _baseline_routes(key)[evalsha], base, low)
    )
    plan.append(("api", PORT, f"{hold} @{low}", _api_routes(key)[hold], api, low))
    return plan


def _measure(workers: int, key: str, args: argparse.Namespace) -> list[Run]:
    """Both servers up at once; routes interleaved round by round so drift in what else
    the machine runs hits the baseline and the API alike; the median round is reported."""
    api = serve.start(HOST, PORT, workers, "api.app:serve_app")
    baseline = serve.start(HOST, BASELINE_PORT, workers, "bench.common.baseline_app:create")
    plan = _plan(key, api, baseline, args.connections, args.low_connections)
    samples: dict[str, list[Measure]] = {step[2]: [] for step in plan}
    try:
        if not (serve.wait_ready(HOST, PORT) and serve.wait_ready(HOST, BASELINE_PORT)):
            raise SystemExit("a server did not start")
        for _kind, port, _route, script, processes, conns in plan:  # warm each route once
            wrk(script, port, args.warmup_s, conns, pids(processes))
        for _ in range(args.rounds):
            for _kind, port, route, script, processes, conns in plan:
                samples[route].append(wrk(script, port, args.duration_s, conns, pids(processes)))
    finally:
        serve.stop(api)
        serve.stop(baseline)
    runs = []
    for kind, _, route, _, _, conns in plan:
        ordered = sorted(samples[route], key=lambda m: m.rps)
        m = ordered[len(ordered) // 2]
        errors = sum(x.errors for x in samples[route])
        runs.append(Run(kind, route, workers, conns, m.rps, m.p50, m.p99, errors, m.shares))
        rates = ", ".join(f"{x.rps:.0f}" for x in samples[route])
        print(
            f"  {kind:8} w={workers} c={conns:<3} {route:40} {m.rps:>8.0f}/s (rounds {rates})"
            f"  p50 {m.p50:.2f} ms  p99 {m.p99:.2f} ms  errors {errors}  cpu {m.shares}",
            flush=True,
        )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per route (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--locust", action="store_true", help="also run the locust mix")
    parser.add_argument("--redis-url", default=os.environ.get("ATP_REDIS_URL", REDIS_URL_DEFAULT))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--low-connections", type=int, default=2, help="the p99 probe")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-markdown", action="store_true")
    pg_dsn_option(parser)
    args = parser.parse_args(argv)
    args.duration_s, args.warmup_s, args.rounds = (3.0, 1.0, 1) if args.quick else (6.0, 2.0, 3)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    # The baselines log nothing: the access log (on by default) is measured apart (README).
    os.environ.update(
        {"ATP_REDIS_URL": args.redis_url, "ATP_RATE_LIMIT_PER_S": "0", "ATP_ACCESS_LOG": "off"}
    )
    os.environ["ATP_PG_DSN"] = args.pg_dsn
    asyncio.run(fresh_database(args.pg_dsn))
    key = asyncio.run(_seed(args.redis_url, args.pg_dsn))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    runs: list[Run] = []
    for workers in (int(w) for w in args.workers.split(",")):
        runs += _measure(workers, key, args)
    locust = run_locust(key, 2, 10 if args.quick else 30, PORT) if args.locust else None
    figures, targets = figures_and_targets(runs, args.low_connections)
    report = Report(
        started,
        ("quick" if args.quick else "full")
        + (", durable" if args.pg_dsn else ", Redis-acknowledged"),
        args.duration_s,
        args.connections,
        runs,
        figures,
        targets,
        machine(
            "7.0", ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "msgspec", "hiredis")
        ),
        locust,
    )
    if args.json:
        write_json(args.json, report)
    if not args.no_markdown:
        update_markdown_section(
            RESULTS_MD, f"HTTP API ({report.mode})", markdown(report), "# Benchmark results\n"
        )
    for t in targets:
        print(f"{t.name}: {t.measured} ({t.bound} {t.limit}) {'met' if t.met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
