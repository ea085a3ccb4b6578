"""Availability over HTTP from the in-memory replica, against the raw-ASGI ceiling.

``python -m bench.reads [--quick] [--json FILE] [--redis-url URL]``

One run, one machine: the ceiling (bench/common/asgi_ceiling.py, a bare app returning a constant
small body) and the API, each one worker started by ``cli.supervisor``, loaded by wrk with the
same threads and connections; rounds interleave the routes and the median round is kept.
Targets (issue 6): the single-SKU availability route at >= 50% of the ceiling's
requests/s with p99 <= 5 ms; a batch of 100 SKUs x 20 locations with p99 <= 3 ms end to
end (one connection: the latency of the query itself, not of a queue in front of it).
"""

import argparse
import asyncio
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from bench.common.cli import admin_key, fresh_database, pg_dsn_option, refuse_database_zero
from bench.common.machine import machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import Target, target, targets_markdown
from bench.common.wrk import Measure, lua, pids, wrk
from cli import supervisor as serve
from engine.local import Engine

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/13"
HOST, CEILING_PORT, API_PORT = "127.0.0.1", 7330, 7331
SKUS = [f"R-{i:04d}" for i in range(2_000)]
LOCATIONS = [f"L{j:02d}" for j in range(20)]
BATCH_SKUS = 100
SINGLE_PATH = "/v1/availability/R-0007?location=L03"
CEILING_SHARE_MIN = 0.50
SINGLE_P99_MS_MAX = 5.0
BATCH_P99_MS_MAX = 3.0


class Run(msgspec.Struct, frozen=True):
    app: str
    route: str
    connections: int
    requests_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    errors: int
    server_core_share: float
    rounds: list[int]


class Report(msgspec.Struct, frozen=True):
    started_at: str
    duration_s: float
    positions: int
    runs: list[Run]
    targets: list[Target]
    machine: object


async def _seed(url: str, dsn: str) -> str:
    """SKUS x LOCATIONS positions (40k), written pipelined; an admin key."""
    engine = Engine.connect(url)
    try:
        await engine.redis.command("FLUSHDB")
        for start in range(0, len(SKUS), 100):
            await asyncio.gather(
                *(
                    engine.stock.set_on_hand(sku, loc, 1 + (i * 31 + j) % 50, reason="bench")
                    for i, sku in enumerate(SKUS[start : start + 100], start)
                    for j, loc in enumerate(LOCATIONS)
                )
            )
        return await admin_key(dsn, "bench-reads")
    finally:
        await engine.close()


def _steps(key: str, connections: int) -> list[tuple[str, int, str, str, int]]:
    """(app, port, route, wrk script, connections)."""
    batch = msgspec.json.encode({"skus": SKUS[:BATCH_SKUS], "locations": LOCATIONS}).decode()
    single = lua("GET", SINGLE_PATH, key)
    query = lua("POST", "/v1/availability/query", key, batch)
    ceiling = lua("GET", "/", key)
    return [
        ("ceiling", CEILING_PORT, "GET / (constant body)", ceiling, connections),
        ("api", API_PORT, "GET /v1/availability/{sku}", single, connections),
        ("api", API_PORT, "POST /v1/availability/query (100x20)", query, connections),
        ("api", API_PORT, "POST /v1/availability/query (100x20) @1", query, 1),
        ("api", API_PORT, "GET /v1/availability/{sku} @1", single, 1),
    ]


def _measure(key: str, args: argparse.Namespace) -> list[Run]:
    ceiling = serve.start(HOST, CEILING_PORT, 1, "bench.common.asgi_ceiling:create")
    api = serve.start(HOST, API_PORT, 1, "api.app:serve_app")
    server_pids = {"ceiling": pids(ceiling), "api": pids(api)}
    steps = _steps(key, args.connections)
    samples: dict[str, list[Measure]] = {route: [] for _, _, route, _, _ in steps}
    try:
        # /readyz of the API is true once its replica has loaded.
        if not (serve.wait_ready(HOST, CEILING_PORT) and serve.wait_ready(HOST, API_PORT, 60)):
            raise SystemExit("a server did not start")
        for app, port, _, script, conns in steps:
            wrk(script, port, args.warmup_s, conns, server_pids[app])
        for _ in range(args.rounds):
            for app, port, route, script, conns in steps:
                samples[route].append(wrk(script, port, args.duration_s, conns, server_pids[app]))
    finally:
        serve.stop(api)
        serve.stop(ceiling)
    runs = []
    for app, _, route, _, conns in steps:
        ordered = sorted(samples[route], key=lambda m: m.rps)
        m = ordered[len(ordered) // 2]
        errors = sum(x.errors for x in samples[route])
        rounds = [round(x.rps) for x in samples[route]]
        runs.append(Run(app, route, conns, m.rps, m.p50, m.p99, errors, m.shares[0], rounds))
        print(
            f"  {app:8} c={conns:<3} {route:42} {m.rps:>8.0f}/s (rounds {rounds})"
            f"  p50 {m.p50:.2f} ms  p99 {m.p99:.2f} ms  errors {errors}  cpu {m.shares}",
            flush=True,
        )
    return runs


def _machine() -> object:
    return machine("", ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "msgspec"))


def _targets(runs: list[Run]) -> list[Target]:
    by = {r.route: r for r in runs}
    ceiling = by["GET / (constant body)"]
    single = by["GET /v1/availability/{sku}"]
    batch = by["POST /v1/availability/query (100x20) @1"]
    return [
        target(
            "single-SKU route req/s / raw-ASGI ceiling req/s",
            round(single.requests_per_s / ceiling.requests_per_s, 3),
            CEILING_SHARE_MIN,
            "ratio",
            "at_least",
        ),
        target(
            "single-SKU route p99 (same connections)",
            single.latency_ms_p99,
            SINGLE_P99_MS_MAX,
            "ms",
            "at_most",
        ),
        target(
            "batch 100x20 p99, one connection",
            batch.latency_ms_p99,
            BATCH_P99_MS_MAX,
            "ms",
            "at_most",
        ),
    ]


def _markdown(report: Report, argv: list[str]) -> str:
    m = report.machine
    lines = [
        f"Run {report.started_at}: `python -m bench.reads {shlex.join(argv)}`. wrk (2 threads), "
        f"{report.duration_s:g} s per route per round, median round; ceiling and API one "
        f"worker each via `cli.supervisor`, up together, routes interleaved; auth on, rate limit "
        f"off; {report.positions:,} positions; reads answered from the replica. "
        f"Machine: {msgspec.json.encode(m).decode()}.",
        "",
        "| app | conns | route | req/s | x ceiling | p50 ms | p99 ms | errors | server CPU "
        "| rounds |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    ceiling = next(r for r in report.runs if r.app == "ceiling").requests_per_s
    for r in report.runs:
        lines.append(
            f"| {r.app} | {r.connections} | `{r.route}` | {r.requests_per_s:,.0f} | "
            f"{r.requests_per_s / ceiling:.2f} | {r.latency_ms_p50:.2f} | {r.latency_ms_p99:.2f} | "
            f"{r.errors} | {r.server_core_share:.2f} | {r.rounds} |"
        )
    lines += ["", *targets_markdown(report.targets)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s per route, one round")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--redis-url", default=os.environ.get("ATP_REDIS_URL", REDIS_URL_DEFAULT))
    parser.add_argument("--connections", type=int, default=16)
    pg_dsn_option(parser)
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    args.duration_s, args.warmup_s, args.rounds = (2.0, 1.0, 1) if args.quick else (6.0, 2.0, 3)
    os.environ.update(
        {
            "ATP_REDIS_URL": args.redis_url,
            "ATP_RATE_LIMIT_PER_S": "0",
            "ATP_PG_DSN": args.pg_dsn,
            # The ceiling app logs nothing: the access log is measured apart (README).
            "ATP_ACCESS_LOG": "off",
        }
    )
    asyncio.run(fresh_database(args.pg_dsn))
    key = asyncio.run(_seed(args.redis_url, args.pg_dsn))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    runs = _measure(key, args)
    report = Report(
        started, args.duration_s, len(SKUS) * len(LOCATIONS), runs, _targets(runs), _machine()
    )
    for t in report.targets:
        print(f"  target {t.name}: {t.measured:g} {t.unit} ({'met' if t.met else 'NOT met'})")
    if args.json:
        write_json(args.json, report)
    if not args.quick:
        title = "HTTP reads from the replica (python -m bench.reads)"
        update_markdown_section(RESULTS_MD, title, _markdown(report, argv), "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
