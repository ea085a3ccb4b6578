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
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import redis

from bench._cli import admin_key, fresh_database, pg_dsn_option, refuse_database_zero
from bench._machine import cpu_snapshot, cpu_use, load_average, machine
from bench._stats import update_markdown_section, write_json
from bench.http import Measure, wrk

ROOT = Path(__file__).resolve().parents[1]
BEFORE_COMMIT = "179807e"
HOST = "127.0.0.1"
NOW_PORT, BEFORE_PORT = 7330, 7331
NOW_REDIS_DEFAULT = "redis://127.0.0.1:6379/5"
BEFORE_REDIS_DEFAULT = "redis://127.0.0.1:6379/6"
PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/atp_bench_pos"
RESULTS_MD = Path(__file__).with_name("RESULTS.md")
STORE = "S1"
SKUS = 100
SEED_ON_HAND = 5_000_000  # sales never run a position to zero (no oversell path)
BATCHES = (1, 20)
THREADS = 2  # wrk threads: one register each
START_WAIT_S = 60.0


class Run(msgspec.Struct, frozen=True):
    server: str  # now | before
    batch: int
    connections: int
    requests_per_s: float
    events_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    errors: int
    worker_core_share: float
    rounds_requests_per_s: list[float]


class Report(msgspec.Struct, frozen=True):
    started_at: str
    command: str
    mode: str
    duration_s: float
    rounds: int
    connections: int
    runs: list[Run]
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float]
    others_core_share: float  # CPU of every process but this one and its servers' workers
    busy: list[str]
    machine: object


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


def _ready(port: int, server: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"a server exited at start:\n{log.read_text()[-3000:]}")
        url = f"http://{HOST}:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"a server was not ready within {START_WAIT_S:.0f} s:\n{log.read_text()}")


def _workers(parent: int) -> list[int]:
    """The worker processes ``atp serve`` spawned (multiprocessing spawn children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
            if ppid == parent and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.append(int(proc.name))
    return found


class Servers:
    """Both ``atp serve`` processes; ended by PID (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="atp-bench-pos-"))

    def start(self, name: str, cwd: Path, port: int, env: dict[str, str]) -> int:
        log = self.tmp / f"{name}.log"
        command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--workers", "1"],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.processes.append(process)
        _ready(port, process, log)
        workers = _workers(process.pid)
        assert len(workers) == 1, workers
        return workers[0]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _env(redis_url: str, state: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_RATE_LIMIT_PER_S": "0",
        "ATP_ACCESS_LOG": "off",
        "ATP_STATE_DIR": str(state),
        **extra,
    }
    for name in ("PROMETHEUS_MULTIPROC_DIR", "ATP_PG_DSN", "ATP_ENV", "ATP_AUTH", "PYTHONPATH"):
        if name not in extra:
            env.pop(name, None)
    return env


def _before_key(tree: Path, redis_url: str) -> str:
    """The earlier commit kept keys in Redis: its own ``atp keys create``."""
    command = [sys.executable, "-m", "cli.main", "keys", "create", "--scope", "admin"]
    out = subprocess.run(
        [*command, "--redis-url", redis_url],
        cwd=tree,
        env=_env(redis_url, tree, PYTHONPATH=str(tree), ATP_ENV="development"),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip().splitlines()[-1]


def _redis_pid() -> int:
    client = redis.Redis(host=HOST, port=6379)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def _measure(args: argparse.Namespace, tree: Path) -> Report:
    for url in (args.redis_url, args.before_redis_url):
        client = redis.Redis.from_url(url)
        try:
            client.flushdb()
        finally:
            client.close()
    asyncio.run(fresh_database(args.pg_dsn))
    key_now = asyncio.run(admin_key(args.pg_dsn, "bench-pos"))
    key_before = _before_key(tree, args.before_redis_url)
    servers = Servers()
    try:
        now_env = _env(args.redis_url, servers.tmp / "now", ATP_PG_DSN=args.pg_dsn)
        before_env = _env(
            args.before_redis_url,
            servers.tmp / "before",
            PYTHONPATH=str(tree),
            ATP_ENV="development",
        )
        pids = {
            "now": servers.start("now", ROOT, NOW_PORT, now_env),
            "before": servers.start("before", tree, BEFORE_PORT, before_env),
        }
        ports = {"now": NOW_PORT, "before": BEFORE_PORT}
        keys = {"now": key_now, "before": key_before}
        for name in ("now", "before"):
            _seed(ports[name], keys[name])
        plan = [(server, batch) for batch in BATCHES for server in ("before", "now")]
        samples: dict[tuple[str, int], list[Measure]] = {step: [] for step in plan}
        load_start, snapshot = load_average(), cpu_snapshot()
        for round_ in range(args.rounds + 1):  # round 0 warms each step up
            for server, batch in plan:
                prefix = f"b{secrets.token_hex(3)}-"
                if server == "now":
                    _register_devices(ports[server], keys[server], prefix)
                script = _script(prefix, batch, keys[server])
                seconds = args.warmup_s if round_ == 0 else args.duration_s
                m = wrk(script, ports[server], seconds, args.connections, [pids[server]])
                if round_:
                    samples[(server, batch)].append(m)
        use = cpu_use(snapshot, cpu_snapshot(), _redis_pid())
        load_end = load_average()
        worker_ticks = sum(p.core_share for p in use.busy_processes if p.pid in pids.values())
    finally:
        servers.stop()
        for url in (args.redis_url, args.before_redis_url):  # leave the shared Redis as found
            client = redis.Redis.from_url(url)
            try:
                client.flushdb()
            finally:
                client.close()
    runs = []
    for (server, batch), measured in samples.items():
        ordered = sorted(measured, key=lambda m: m.rps)
        m = ordered[len(ordered) // 2]
        runs.append(
            Run(
                server,
                batch,
                args.connections,
                m.rps,
                round(m.rps * batch, 1),
                m.p50,
                m.p99,
                sum(x.errors for x in measured),
                m.shares[0],
                [x.rps for x in measured],
            )
        )
    busy = [f"{p.command} {p.core_share}" for p in use.busy_processes]
    return Report(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command="python -m bench.pos" + (" --quick" if args.quick else ""),
        mode="quick" if args.quick else "full",
        duration_s=args.duration_s,
        rounds=args.rounds,
        connections=args.connections,
        runs=runs,
        load_average_start=load_start,
        load_average_end=load_end,
        # The run's whole-machine CPU but this process, Redis and the two workers.
        others_core_share=round(max(0.0, use.others_core_share - worker_ticks), 2),
        busy=busy,
        machine=machine("7.0", ("uvicorn", "uvloop", "httptools", "msgspec", "asyncpg")),
    )


def _markdown(report: Report) -> str:
    by = {(r.server, r.batch): r for r in report.runs}
    lines = [
        f"Run {report.started_at}: `{report.command}` (mode {report.mode}). "
        f"`POST /v1/pos/{{device}}/events`, sales with unique event ids, each wrk thread "
        f"its own register; wrk {THREADS} threads, {report.connections} connections, "
        f"{report.duration_s:g} s per step, {report.rounds} rounds after a warm-up round, "
        "steps interleaved, median round; one `atp serve` worker per server, both up "
        "together; auth on, rate limit off. *now*: this tree, acknowledged once the events "
        "are in PostgreSQL (group commit; Redis db 5, database atp_bench_pos). *before*: "
        f"commit {BEFORE_COMMIT} (the route before issue 10: acknowledged from Redis alone; "
        "served from a `git worktree` with the same venv, ATP_ENV=development, no "
        "PostgreSQL, its key in Redis db 6). Same Redis server, same PostgreSQL server.",
        "",
        "| batch | server | req/s | events/s | p50 ms | p99 ms | errors | worker CPU "
        "| rounds req/s |",
        "|--:|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for batch in BATCHES:
        for server in ("before", "now"):
            r = by[(server, batch)]
            rounds = ", ".join(f"{x:,.0f}" for x in r.rounds_requests_per_s)
            lines.append(
                f"| {batch} | {server} | {r.requests_per_s:,.0f} | {r.events_per_s:,.0f} | "
                f"{r.latency_ms_p50:.2f} | {r.latency_ms_p99:.2f} | {r.errors} | "
                f"{r.worker_core_share} | {rounds} |"
            )
    lines += ["", "| batch | now / before req/s | now / before p99 |", "|--:|--:|--:|"]
    for batch in BATCHES:
        now, before = by[("now", batch)], by[("before", batch)]
        rate = now.requests_per_s / before.requests_per_s
        tail = now.latency_ms_p99 / before.latency_ms_p99
        lines.append(f"| {batch} | {rate:.2f}x | {tail:.2f}x |")
    la0 = " ".join(f"{x:.2f}" for x in report.load_average_start)
    la1 = " ".join(f"{x:.2f}" for x in report.load_average_end)
    lines += [
        "",
        f"Load average at start / end: {la0} / {la1}; CPU of other processes during the "
        f"steps (besides this process, Redis and the two workers, so wrk and PostgreSQL "
        f"included): {report.others_core_share} of a core; busiest: {', '.join(report.busy)}.",
    ]
    return "\n".join(lines)


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
    text = _markdown(report)
    print(text)
    if not args.no_markdown:
        title = "POS route: what the durability wait costs (python -m bench.pos)"
        update_markdown_section(RESULTS_MD, title, text, "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
