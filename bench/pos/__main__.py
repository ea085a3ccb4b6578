"""What the durability wait costs the register route: ``POST /v1/pos/{device}/events`` now
(acknowledged once its events are in PostgreSQL, the group commit) beside the same route
before issue 10 (commit 179807e: acknowledged from Redis alone), in one run.

``python -m bench.pos [--quick] [--json FILE] [--no-markdown]``

The earlier commit's tree is checked out with ``git worktree add`` (read-only, removed at
the end) and served from there by the same virtualenv's Python, in development mode, keys in
Redis, on its own Redis database. Both servers are one ``atp serve`` worker each, up
together; wrk runs the same settings against both, batches of 1 and of 20 sales with unique
event ids (each wrk thread its own register), rounds interleaved, median round reported.
"""

import argparse
import asyncio
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import redis

from bench.common.cli import admin_key, fresh_database, pg_dsn_option, refuse_database_zero
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.wrk import Measure, wrk
from bench.pos.report import BATCHES, BEFORE_COMMIT, THREADS, Report, Run, markdown
from bench.pos.servers import Servers, before_key, server_env

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
NOW_PORT, BEFORE_PORT = 7330, 7331
NOW_REDIS_DEFAULT = "redis://127.0.0.1:6379/5"
BEFORE_REDIS_DEFAULT = "redis://127.0.0.1:6379/6"
PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/atp_bench_pos"
STORE = "S1"
SKUS = 100
SEED_ON_HAND = 5_000_000  # sales never run a position to zero (no oversell path)


def _script(device_prefix: str, batch: int, key: str) -> str:
    """Each wrk thread is one register (``<prefix><thread>``); every request carries
    ``batch`` sales with event ids and device_seq unique within that register."""
    event = (
        '{"type":"sale","event_id":"e%d","device_seq":%d,'
        '"occurred_at":"2026-12-03T10:00:00Z","sku":"P-%03d","location":"' + STORE + '","qty":1}'
    )
    return (
        'wrk.method = "POST"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "local started = 0\n"
        "function setup(thread) started = started + 1; thread:set('tid', started) end\n"
        "local n = 0\n"
        "function request()\n"
        "  n = n + 1\n"
        "  local parts = {}\n"
        f"  for k = 1, {batch} do\n"
        f"    local seq = (n - 1) * {batch} + k\n"
        f"    parts[k] = string.format('{event}', seq, seq, seq % {SKUS})\n"
        "  end\n"
        "  local body = '{\"events\":[' .. table.concat(parts, ',') .. ']}'\n"
        f"  return wrk.format(nil, '/v1/pos/{device_prefix}' .. tid .. '/events', nil, body)\n"
        "end\n"
    )


def _call(port: int, method: str, path: str, key: str, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        status: int = reply.status
        return status


def _seed(port: int, key: str) -> None:
    for i in range(SKUS):
        body = msgspec.json.encode(
            {"sku": f"P-{i:03d}", "location": STORE, "delta": SEED_ON_HAND, "reason": "receipt"}
        )
        assert _call(port, "POST", "/v1/stock/adjustments", key, body) == 200


def _register_devices(port: int, key: str, prefix: str) -> None:
    """The server now refuses events of a register not registered to a store."""
    body = msgspec.json.encode({"location": STORE})
    for t in range(1, THREADS + 1):
        assert _call(port, "PUT", f"/v1/pos/devices/{prefix}{t}", key, body) in (200, 201)


def _redis_pid() -> int:
    client = redis.Redis(host=HOST, port=6379)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def _flush(*urls: str) -> None:
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
        finally:
            client.close()


Samples = dict[tuple[str, int], list[Measure]]


def _rounds(
    args: argparse.Namespace, ports: dict[str, int], keys: dict[str, str], pids: dict[str, int]
) -> Samples:
    """Round 0 warms each step up; the steps (server, batch) interleave round by round."""
    plan = [(server, batch) for batch in BATCHES for server in ("before", "now")]
    samples: Samples = {step: [] for step in plan}
    for round_ in range(args.rounds + 1):
        for server, batch in plan:
            prefix = f"b{secrets.token_hex(3)}-"
            if server == "now":
                _register_devices(ports[server], keys[server], prefix)
            script = _script(prefix, batch, keys[server])
            seconds = args.warmup_s if round_ == 0 else args.duration_s
            m = wrk(script, ports[server], seconds, args.connections, [pids[server]])
            if round_:
                samples[(server, batch)].append(m)
    return samples


def _runs(samples: Samples, connections: int) -> list[Run]:
    """The median round of each step."""
    runs = []
    for (server, batch), measured in samples.items():
        m = sorted(measured, key=lambda x: x.rps)[len(measured) // 2]
        errors = sum(x.errors for x in measured)
        rounds = [x.rps for x in measured]
        runs.append(
            Run(
                server,
                batch,
                connections,
                m.rps,
                round(m.rps * batch, 1),
                m.p50,
                m.p99,
                errors,
                m.shares[0],
                rounds,
            )
        )
    return runs


def _measure(args: argparse.Namespace, tree: Path) -> Report:
    _flush(args.redis_url, args.before_redis_url)
    asyncio.run(fresh_database(args.pg_dsn))
    keys = {
        "now": asyncio.run(admin_key(args.pg_dsn, "bench-pos")),
        "before": before_key(tree, args.before_redis_url),
    }
    ports = {"now": NOW_PORT, "before": BEFORE_PORT}
    servers = Servers()
    try:
        now_env = server_env(args.redis_url, servers.tmp / "now", ATP_PG_DSN=args.pg_dsn)
        before_env = server_env(
            args.before_redis_url,
            servers.tmp / "before",
            PYTHONPATH=str(tree),
            ATP_ENV="development",
        )
        pids = {
            "now": servers.start("now", ROOT, NOW_PORT, now_env),
            "before": servers.start("before", tree, BEFORE_PORT, before_env),
        }
        for name in ("now", "before"):
            _seed(ports[name], keys[name])
        load_start, snapshot = load_average(), cpu_snapshot()
        samples = _rounds(args, ports, keys, pids)
        use = cpu_use(snapshot, cpu_snapshot(), _redis_pid())
        load_end = load_average()
        worker_ticks = sum(p.core_share for p in use.busy_processes if p.pid in pids.values())
    finally:
        servers.stop()
        _flush(args.redis_url, args.before_redis_url)  # leave the shared Redis as found
    return Report(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command="python -m bench.pos" + (" --quick" if args.quick else ""),
        mode="quick" if args.quick else "full",
        duration_s=args.duration_s,
        rounds=args.rounds,
        connections=args.connections,
        runs=_runs(samples, args.connections),
        load_average_start=load_start,
        load_average_end=load_end,
        # The run's whole-machine CPU but this process, Redis and the two workers.
        others_core_share=round(max(0.0, use.others_core_share - worker_ticks), 2),
        busy=[f"{p.command} {p.core_share}" for p in use.busy_processes],
        machine=machine("7.0", ("uvicorn", "uvloop", "httptools", "msgspec", "asyncpg")),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pos", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per step, 1 round (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--no-markdown", action="store_true")
    parser.add_argument("--redis-url", default=NOW_REDIS_DEFAULT, help="the server now")
    parser.add_argument(
        "--before-redis-url", default=BEFORE_REDIS_DEFAULT, help="the server before"
    )
    parser.add_argument("--connections", type=int, default=16)
    pg_dsn_option(parser)
    parser.set_defaults(pg_dsn=PG_DSN_DEFAULT)
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    refuse_database_zero(parser, args.before_redis_url)
    if args.redis_url == args.before_redis_url:
        parser.error("the two servers need Redis databases of their own")
    args.duration_s, args.warmup_s, args.rounds = (3.0, 1.0, 1) if args.quick else (6.0, 2.0, 3)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    tree = Path(tempfile.gettempdir()) / "atp-before"
    if tree.exists():
        raise SystemExit(f"{tree} exists: remove it (git worktree remove {tree})")
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), BEFORE_COMMIT],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        report = _measure(args, tree)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    if args.json:
        write_json(args.json, report)
    text = markdown(report)
    print(text)
    if not args.no_markdown:
        title = "POS route: what the durability wait costs (python -m bench.pos)"
        update_markdown_section(RESULTS_MD, title, text, "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
