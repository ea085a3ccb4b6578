"""Where a hold's worker CPU goes: POST /v1/reservations (1 line) stage by stage.

``python -m bench.hold [--quick] [--json FILE] [--markdown | --no-markdown]``

Serves the API (durable engine, one worker, access log off; again with it on) and the
baseline app (bench/common/baseline_app.py) from ``cli.supervisor`` as bench/http does,
on a private redis-server (bench/hold/servers.py). Each step is a wrk run of fixed length:
holds without and with an Idempotency-Key, holds with the access log on, the availability
GET, the baseline's EVALSHA; the worker's CPU per request is read from /proc. Each hold
step also gets a pass sampled by py-spy (bench/hold/profile.py), whose stacks are sorted
into stages (bench/hold/stages.py) and spread over the unsampled CPU per request.
A full run writes its bench/RESULTS.md section.
"""

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.common.cli import PG_DSN_DEFAULT
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import OUT, RESULTS_MD, update_markdown_section, write_json
from bench.common.wrk import lua
from bench.hold import load, positions, profile
from bench.hold.report import Report, Step, markdown
from bench.hold.servers import Api, Servers
from bench.script.server import PrivateRedis

TITLE = "Where a hold's CPU goes (python -m bench.hold)"
PG_DSN = PG_DSN_DEFAULT.rsplit("/", 1)[0] + "/atp_bench_hold"
API_PORT, API_LOG_PORT, BASELINE_PORT = 7350, 7351, 7352
GET_PATH = "/v1/availability/B-007?location=W1&location=S1"


def _plan(servers: Servers) -> list[tuple[Step, int, int, Callable[[], str]]]:
    """(step, port, worker PID, a fresh wrk script) in the order each round runs them."""
    api, log = servers.apis
    return [
        (Step("hold", "api", True), api.port, api.pid, lambda: load.hold(api.key)),
        (Step("hold + Idempotency-Key", "api", True), api.port, api.pid,
         lambda: load.hold(api.key, idempotency_key=True)),
        (Step("hold, access log on", "api-log", True), log.port, log.pid,
         lambda: load.hold(log.key)),
        (Step("GET /v1/availability/{sku}", "api", False), api.port, api.pid,
         lambda: lua("GET", GET_PATH, api.key)),
        (Step("baseline POST /baseline/evalsha", "baseline", False), servers.baseline_port,
         servers.baseline_pid, lambda: lua("POST", "/baseline/evalsha", api.key, "{}")),
    ]  # fmt: skip


def _measure(servers: Servers, redis: PrivateRedis, args: argparse.Namespace) -> list[Step]:
    plan = _plan(servers)
    for _step, port, pid, script in plan:  # warm-up: imports, caches, the replica's load
        load.run(script(), port, args.warmup_s, args.connections, pid, redis)
    for i in range(args.rounds):
        for step, port, pid, script in plan:
            step.passes.append(
                load.run(script(), port, args.duration_s, args.connections, pid, redis)
            )
            p = step.passes[-1]
            print(f"  round {i + 1} {step.name:34} {p.requests_per_s:8,.0f} req/s "
                  f"{p.worker_cpu_us_per_request:6.0f} us/req  cores {p.worker_core_share:.2f}"
                  f"  errors {p.errors}", flush=True)  # fmt: skip
        for step, port, pid, script in plan:
            if not step.profiled or args.no_profile:
                continue
            raw = OUT / f"hold-{os.getpid()}-{i}.raw"
            try:
                sampled = load.run(script(), port, args.profile_s, args.connections, pid, redis,
                                   sample=(raw, args.rate))  # fmt: skip
                profile.add(step.samples, raw)
            finally:
                raw.unlink(missing_ok=True)
            step.sampled_passes.append(sampled)
            print(f"  round {i + 1} {step.name:34} sampled: {sampled.requests_per_s:8,.0f} "
                  f"req/s {step.samples.busy:,} busy samples so far", flush=True)  # fmt: skip
    return [step for step, *_ in plan]


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.hold", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s steps (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, help="default 3 (quick 1)")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--no-profile", action="store_true", help="CPU per request only")
    parser.add_argument("--pg-dsn", default=PG_DSN,
                        help=f"the API's database (created, emptied), default {PG_DSN}; the "
                        "access-log server's is the same name + _log")  # fmt: skip
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--markdown", action="store_true", help="write RESULTS.md on --quick")
    group.add_argument("--no-markdown", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration_s, args.warmup_s, args.profile_s = (3.0, 1.0, 4.0) if args.quick else (6, 2, 10)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _options(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    if not args.no_profile:
        profile.py_spy()
    started, started_s = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
    load_start, before = load_average(), cpu_snapshot()
    answer = positions.measure()  # in this process, before the servers load the machine
    redis = PrivateRedis(db=11)
    apis = [Api("api", API_PORT, 11, args.pg_dsn, access_log=False),
            Api("api-log", API_LOG_PORT, 12, args.pg_dsn + "_log", access_log=True)]  # fmt: skip
    servers = Servers(redis, apis, BASELINE_PORT)
    try:
        servers.start()
        steps = _measure(servers, redis, args)
        cpu = cpu_use(before, cpu_snapshot(), redis.pid)
        text = servers.access_log.read_bytes() if servers.access_log.exists() else b""
        per_line = len(text) / max(text.count(b"\n"), 1)
    finally:
        servers.stop()
        redis.stop()
    report = Report(
        started_at=started,
        command="python -m bench.hold" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        mode="quick" if args.quick else "full",
        seconds=round(time.monotonic() - started_s, 1),
        connections=args.connections,
        duration_s=args.duration_s,
        profile_s=0.0 if args.no_profile else args.profile_s,
        rate_hz=args.rate,
        rounds=args.rounds,
        steps=steps,
        access_log_bytes_per_line=round(per_line, 1),
        positions=answer,
        machine=machine(redis.version.split(" sha=")[0], ("fastapi", "starlette", "uvicorn",
                        "uvloop", "httptools", "msgspec", "asyncpg", "hiredis", "py-spy")),
        cpu=cpu,
        load_start=load_start,
        load_end=load_average(),
    )  # fmt: skip
    if args.json:  # first: the figures survive a failure below
        write_json(args.json, report)
    text_md = markdown(report)
    print(text_md)
    if (args.markdown or not args.quick) and not args.no_markdown:
        update_markdown_section(RESULTS_MD, TITLE, text_md, "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
