"""Faults under load (issue 17), longer than the test's bounded run.

``python -m bench.faults [--quick] [--redis-kills N] [--clients N] [--proxy-s S]
[--json FILE] [--no-markdown]``

The load mix (storefront reads, holds, commits, register replays, stock writes, orders)
against ``atp serve --workers 2 --journal`` while, in turn, Redis is SIGKILLed and
restarted empty every 10 s, PostgreSQL is SIGKILLed and restarted, an API worker is
SIGKILLed, and a TCP proxy between the engine and Redis adds delay and drops connections
(bench/faults/scenario.py, which tests/system/test_fault_under_load.py runs bounded).
Reports acknowledged writes lost, applied twice, 5xx other than 503 with Retry-After, 401s
(all targets 0) and the time to serve again after each fault.

Private servers only: a redis-server and a PostgreSQL of its own on free loopback ports
(tests/support/servers.py), the API on ``--port``; every process it starts is ended by PID.
"""

import argparse
import asyncio
import contextlib
import importlib
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.common.machine import machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.faults.faults import Plan
from bench.faults.report import TITLE, markdown, report
from bench.faults.scenario import Outcome, run

PORT_DEFAULT = 7430
PACKAGES = ("uvicorn", "uvloop", "asyncpg", "msgspec", "httpx", "redis")
# The test's bounded run (tests/system/test_fault_under_load.py).
# The tests' private servers, loaded by name: mypy checks bench, not the test helpers.
SERVERS_MODULE = "tests.support.servers"
QUICK = Plan(clients=2, redis_kills=3, redis_every_s=10.0, pause_s=2.0, proxy_s=6.0)


def _redis_version() -> str:
    out = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=True
    ).stdout
    return out.split(" v=")[1].split()[0] if " v=" in out else out.strip()


async def _run(plan: Plan, port: int) -> tuple[Outcome, str]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    servers = importlib.import_module(SERVERS_MODULE)
    redis = servers.PrivateRedis(servers.free_ports(1)[0])
    postgres = servers.PrivatePostgres()
    try:
        await asyncio.to_thread(redis.start)
        await asyncio.to_thread(postgres.start)
        with tempfile.TemporaryDirectory(prefix="atp-bench-faults-") as tmp:
            dsn = postgres.dsn("atp")
            outcome = await run(redis, redis.require_port(), postgres, dsn, port, Path(tmp), plan)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(redis.close)
        await asyncio.to_thread(postgres.close)
    return outcome, started_at


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the test's bounded run")
    parser.add_argument("--redis-kills", type=int, default=6, help="Redis losses, 10 s apart")
    parser.add_argument("--clients", type=int, default=3, help="clients of each kind")
    parser.add_argument("--proxy-s", type=float, default=20.0, help="the network fault phase")
    parser.add_argument("--pause-s", type=float, default=5.0, help="load between faults")
    parser.add_argument("--port", type=int, default=PORT_DEFAULT, help="the API's port")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-markdown", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args(argv)
    plan = (
        QUICK
        if args.quick
        else Plan(
            clients=args.clients,
            redis_kills=args.redis_kills,
            pause_s=args.pause_s,
            proxy_s=args.proxy_s,
        )
    )
    outcome, started_at = asyncio.run(_run(plan, args.port))
    figures = report(outcome, plan, started_at, machine(_redis_version(), PACKAGES))
    text = markdown(figures, argv)
    print(text)
    if args.json:
        write_json(args.json, figures)
    if not args.no_markdown:
        update_markdown_section(RESULTS_MD, TITLE, text, "# Benchmark results\n")
    return 0 if all(t.met for t in figures.targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
