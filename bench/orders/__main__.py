"""Orders end to end (issue 14): ``POST /v1/orders`` + ``/confirm``, 3 lines routed over 50
locations, against the API at 2 workers, beside a baseline in the same run (the same carts
through ``POST /v1/routing/allocate`` + ``/v1/reservations/{id}/commit``: the engine's path
without the order rows); then the pickup promise, over HTTP and its pieces in process.

``python -m bench.orders [--quick] [--json FILE] [--results-md]``

The catalog, stock and an admin key are seeded into a fresh PostgreSQL database
(``atp_bench_orders``) and Redis database 9 (bench/orders/world.py); the API runs as
``cli.supervisor`` workers (as ``atp serve``), stopped by PID at the end. Levels: closed
loops at ``--concurrency`` connections and open loops at ``--rates`` orders/s; at each
level the orders step then the baseline step. Writes its section to
bench/out/orders-results.md (``--results-md``: into bench/RESULTS.md instead).
"""

import argparse
import asyncio
import os
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from urllib.parse import urlparse

import redis
import uvloop

from bench.common.cli import PG_DSN_DEFAULT, refuse_database_zero
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import OUT, RESULTS_MD, update_markdown_section, write_json
from bench.orders import promise, world
from bench.orders.load import Flow, Step, allocate_locations, order_locations, run
from bench.orders.report import BASELINE, ORDERS, TITLE, Report, markdown, targets
from cli import supervisor as serve

PORT = 7420
REDIS_DEFAULT = "redis://127.0.0.1:6379/9"
PG_DSN = PG_DSN_DEFAULT.rsplit("/", 1)[0] + "/atp_bench_orders"
REFUSED_REDIS_DBS = (0, 12, 15)  # the demo's, and the test suite's
REFUSED_PG_DATABASES = ("atp_j_test",)  # the test suite's
RATE_LIMIT_PER_S = "1000000"  # on, never refusing: its check is part of each request's cost
READY_WAIT_S = 60.0
CARTS = 4096
WARMUP_CONNECTIONS = 8
RESULTS_FILE = OUT / "orders-results.md"
PACKAGES = ("uvicorn", "uvloop", "httptools", "msgspec", "asyncpg", "hiredis")


def _flows(level: str, carts: list[world.Cart]) -> list[Flow]:
    """The orders flow and its baseline, ids unique to this step and run."""
    o, b = f"bo-{world.run_nonce()}-{level}", f"bb-{world.run_nonce()}-{level}"
    return [
        Flow(
            ORDERS,
            lambda n: ("POST", "/v1/orders", world.order_body(f"{o}-{n}", carts[n % CARTS], n)),
            lambda n: f"/v1/orders/{o}-{n}/confirm",
            order_locations,
        ),
        Flow(
            BASELINE,
            lambda n: (
                "POST",
                "/v1/routing/allocate",
                world.allocate_body(f"{b}-{n}", carts[n % CARTS]),
            ),
            lambda n: f"/v1/reservations/{b}-{n}/commit",
            allocate_locations,
        ),
    ]


def _say(step: Step) -> None:
    load = f"c={step.connections}" if step.offered_per_s is None else f"{step.offered_per_s:g}/s"
    f = step.flows
    print(
        f"  {step.flow[:44]:44} {load:>8} {f.ops_per_s:8,.0f}/s  p50 {f.latency_us_p50 / 1000:7.2f}"
        f" ms  p99 {f.latency_us_p99 / 1000:7.2f} ms  errors {sum(step.errors.values())}"
        f"  server {f.server_cpu_us_per_call:6,.0f} us/flow",
        flush=True,
    )


async def _measure(
    args: argparse.Namespace, key: str, pids: list[int]
) -> tuple[list[Step], list[Step]]:
    carts = world.carts(CARTS, args.pickup_share, seed_=14)
    print(f"warm-up: {args.warmup_s:g} s per flow", flush=True)
    for flow in _flows("w", carts):
        await run(flow, PORT, key, WARMUP_CONNECTIONS, args.warmup_s, args.flows_max, pids)
    await run(promise.route_flow(1), PORT, key, 1, args.warmup_s, args.flows_max, pids)
    levels: list[tuple[int, float | None]] = [(c, None) for c in args.concurrency]
    levels += [(args.open_connections, r) for r in args.rates]
    steps: list[Step] = []
    for i, (connections, rate) in enumerate(levels):
        for flow in _flows(str(i), carts):
            steps.append(
                await run(flow, PORT, key, connections, args.duration_s, args.flows_max, pids, rate)
            )
            _say(steps[-1])
    promise_steps = []
    for connections in args.promise_connections:
        flow = promise.route_flow(connections)
        promise_steps.append(
            await run(flow, PORT, key, connections, args.promise_s, args.flows_max, pids)
        )
        _say(promise_steps[-1])
    return steps, promise_steps


def _serve(args: argparse.Namespace) -> list[BaseProcess]:
    os.environ.update(
        {
            "ATP_REDIS_URL": args.redis_url,
            "ATP_PG_DSN": args.pg_dsn,
            "ATP_RATE_LIMIT_PER_S": RATE_LIMIT_PER_S,
            "ATP_ACCESS_LOG": "off",
            "ATP_STATE_DIR": str(OUT / f"orders-state-{os.getpid()}"),
        }
    )
    processes = serve.start(world.HOST, PORT, args.workers, "api.app:serve_app")
    # start() makes SIGINT and SIGTERM only set a flag (for `atp serve`): here they should
    # stop the run, through the finally that stops the workers.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return processes


def _options(argv: list[str] | None) -> argparse.Namespace:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    def floats(text: str) -> list[float]:
        return [float(x) for x in text.split(",") if x]

    parser = argparse.ArgumentParser(prog="python -m bench.orders", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s steps (smoke, ~1 min)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--results-md", action="store_true", help="write into bench/RESULTS.md")
    parser.add_argument("--duration-s", type=float, help="per step; default 10 (quick 3)")
    parser.add_argument("--warmup-s", type=float, help="per flow; default 3 (quick 1)")
    parser.add_argument("--promise-s", type=float, help="per promise step; default 5 (quick 2)")
    parser.add_argument("--concurrency", type=ints, default=[1, 32], help="closed-loop levels")
    parser.add_argument("--rates", type=floats, default=[250.0, 500.0], help="open loop, /s")
    parser.add_argument("--open-connections", type=int, default=64)
    parser.add_argument("--promise-connections", type=ints, default=[1, 8])
    parser.add_argument("--flows-max", type=int, default=30_000, help="per step")
    parser.add_argument("--pickup-share", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis-url", default=REDIS_DEFAULT, help="flushed; default db 9")
    parser.add_argument("--pg-dsn", default=PG_DSN, help=f"created, emptied; default {PG_DSN}")
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    if int(urlparse(args.redis_url).path.lstrip("/") or 0) in REFUSED_REDIS_DBS:
        parser.error(f"--redis-url: databases {REFUSED_REDIS_DBS} are not the benchmark's")
    if urlparse(args.pg_dsn).path.lstrip("/") in REFUSED_PG_DATABASES:
        parser.error("--pg-dsn: that database is the test suite's")
    quick = args.quick
    args.duration_s = args.duration_s or (3.0 if quick else 10.0)
    args.warmup_s = args.warmup_s or (1.0 if quick else 3.0)
    args.promise_s = args.promise_s or (2.0 if quick else 5.0)
    return args


def _flush(url: str) -> tuple[int, str]:
    """Empties the database; answers Redis's PID and version."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
        info = client.info("server")
        return int(info["process_id"]), f"redis {info['redis_version']}"
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    args = _options(argv)
    started, started_s = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
    redis_pid, redis_version = _flush(args.redis_url)
    print(f"seeding {len(world.locations())} locations x {len(world.SKUS)} SKUs", flush=True)
    key = asyncio.run(world.seed(args.redis_url, args.pg_dsn))
    processes: list[BaseProcess] = []
    try:
        processes = _serve(args)
        if not serve.wait_ready(world.HOST, PORT, READY_WAIT_S):
            raise SystemExit(f"the API on port {PORT} did not become ready")
        pids = [p.pid for p in processes if p.pid is not None]
        load_start, before = load_average(), cpu_snapshot()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            steps, promise_steps = runner.run(_measure(args, key, pids))
        cpu = cpu_use(before, cpu_snapshot(), redis_pid)
        load_end = load_average()
    finally:
        serve.stop(processes)
        shutil.rmtree(OUT / f"orders-state-{os.getpid()}", ignore_errors=True)
    print("pickup promise pieces in process", flush=True)
    pieces = promise.in_process(args.pg_dsn, args.redis_url)
    _flush(args.redis_url)  # leave the shared Redis as found
    report = Report(
        started_at=started,
        command="python -m bench.orders" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        mode="quick" if args.quick else "full",
        seconds=round(time.monotonic() - started_s, 1),
        workers=args.workers,
        locations=len(world.locations()),
        skus=len(world.SKUS),
        pickup_share=args.pickup_share,
        steps=steps,
        promise_steps=promise_steps,
        pieces=pieces,
        targets=targets(steps, promise_steps),
        machine=machine(redis_version, PACKAGES),
        cpu=cpu,
        workers_core_share=round(sum(p.core_share for p in cpu.busy_processes if p.pid in pids), 2),
        load_start=load_start,
        load_end=load_end,
    )
    if args.json:  # first: the figures survive a failure below
        write_json(args.json, report)
    text = markdown(report)
    print(text)
    if args.results_md:
        update_markdown_section(RESULTS_MD, TITLE, text, "# Benchmark results\n")
    else:
        OUT.mkdir(exist_ok=True)
        RESULTS_FILE.write_text(f"## {TITLE}\n\n{text}\n")
        print(f"\nwritten to {RESULTS_FILE}")
    for t in report.targets:
        print(f"{t.name}: {t.measured:g} {t.unit} ({t.bound} {t.limit:g}) "
              f"{'met' if t.met else 'NOT MET'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
