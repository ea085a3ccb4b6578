"""Change-stream fan-out: many SSE clients on one API process while position events are
written, measuring delivery latency, loss, order and memory per client.

``python -m bench.sse [--quick] [--clients N] [--rate R] [--seconds S] [--json FILE]``

One API worker (``cli.supervisor``) serves ``GET /v1/changes``. The clients (plain asyncio
sockets in this process) each follow one SKU (``sku=...&types=adjusted``; SKUs shared by
several clients); a writer process adds one unit at a time to SKUs in turn through the
durable engine at ``rate`` events/s. Every event carries the position after it, so a
client checks it got each of its SKU's events once and in order (on hand 1, 2, 3, ...).
Latency: from the event's ledger time (`at`, the Redis clock when the script appended it)
to the client reading it, on the same machine. Target (issue 13): p99 <= 100 ms with 1,000
clients at 1,000 events/s for 60 s, none lost or reordered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from bench.common.cli import admin_key, fresh_database, pg_dsn_option, refuse_database_zero
from bench.common.machine import machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import Target, target, targets_markdown
from bench.common.wrk import pids
from cli import supervisor as serve

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/8"  # not 12: the durability tests' db
PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/atp_bench_sse"
HOST, PORT = "127.0.0.1", 7340
LOCATION = "L1"
P99_MS_MAX = 100.0


class Event(msgspec.Struct):
    on_hand: int
    at: str


class Report(msgspec.Struct, frozen=True):
    started_at: str
    clients: int
    skus: int
    rate: float
    seconds: float
    written: int
    delivered: int
    lost: int
    reordered: int
    latency_ms_p50: float
    latency_ms_p99: float
    latency_ms_max: float
    rss_per_client_bytes: float
    server_cpu_s: float
    targets: list[Target]
    machine: object


class Client:
    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.last_on_hand = 0
        self.received = 0
        self.reordered = 0
        self.latencies_ms: list[float] = []
        self.ready = asyncio.Event()

    async def follow(self, key: str, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection(HOST, PORT)
        writer.write(
            f"GET /v1/changes?sku={self.sku}&types=adjusted HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise SystemExit(f"the stream was refused: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers
        self.ready.set()
        decode = msgspec.json.Decoder(Event).decode
        try:
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    return
                at = line.find(b"data: ")
                if at < 0:
                    continue
                event = decode(line[at + 6 :])
                now_ms = time.time() * 1000
                moment = datetime.fromisoformat(event.at.replace("Z", "+00:00"))
                self.latencies_ms.append(now_ms - moment.timestamp() * 1000)
                self.received += 1
                if event.on_hand != self.last_on_hand + 1:
                    self.reordered += 1
                self.last_on_hand = max(self.last_on_hand, event.on_hand)
        finally:
            writer.close()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _writer(args: argparse.Namespace, skus: list[str]) -> dict[str, int]:
    """Runs in a process of its own (``--writer``): one unit at a time, SKUs in turn."""
    import asyncpg

    from engine.durable import DurableEngine

    pool = await asyncpg.create_pool(args.pg_dsn, min_size=2, max_size=8)
    engine = await DurableEngine.open(args.redis_url, pool)
    written = dict.fromkeys(skus, 0)
    try:
        interval, started = 1 / args.rate, time.monotonic()
        pending: set[asyncio.Task[object]] = set()
        for n in range(int(args.rate * args.seconds)):
            delay = started + n * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sku = skus[n % len(skus)]
            written[sku] += 1
            task = asyncio.create_task(engine.stock.adjust(sku, LOCATION, 1, "receipt"))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
    finally:
        await engine.close()
        await pool.close()
    return written


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _measure(args: argparse.Namespace, key: str, server_pid: int) -> Report:
    skus = [f"S-{i:04d}" for i in range(args.skus)]
    clients = [Client(skus[i % len(skus)]) for i in range(args.clients)]
    stop = asyncio.Event()
    rss_before = _rss_bytes(server_pid)
    tasks = []
    for start in range(0, len(clients), 100):  # connect in waves
        tasks += [asyncio.create_task(c.follow(key, stop)) for c in clients[start : start + 100]]
        await asyncio.gather(*(c.ready.wait() for c in clients[start : start + 100]))
    print(f"  {len(clients)} clients connected", flush=True)
    rss_per_client = (_rss_bytes(server_pid) - rss_before) / len(clients)
    cpu_before = _cpu_s(server_pid)
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.sse", "--writer", "--rate", str(args.rate),
        "--seconds", str(args.seconds), "--skus", str(args.skus),
        "--redis-url", args.redis_url, "--pg-dsn", args.pg_dsn,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await writer.communicate()
    written: dict[str, int] = msgspec.json.decode(out.strip().splitlines()[-1])
    for _ in range(100):  # the tail of the stream
        if all(c.received >= written[c.sku] for c in clients):
            break
        await asyncio.sleep(0.1)
    server_cpu = _cpu_s(server_pid) - cpu_before
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [ms for c in clients for ms in c.latencies_ms]
    lost = sum(max(0, written[c.sku] - c.received) for c in clients)
    reordered = sum(c.reordered for c in clients)
    p99 = _percentile(latencies, 0.99)
    targets = [
        target("delivery latency p99", round(p99, 1), P99_MS_MAX, "ms", "at_most"),
        target("events lost", lost, 0, "events", "equal"),
        target("events out of order", reordered, 0, "events", "equal"),
    ]
    return Report(
        datetime.now(UTC).isoformat(timespec="seconds"), args.clients, args.skus, args.rate,
        args.seconds, sum(written.values()), len(latencies), lost, reordered,
        round(_percentile(latencies, 0.5), 1), round(p99, 1),
        round(max(latencies, default=0.0), 1), round(rss_per_client), round(server_cpu, 1),
        targets, machine("", ("fastapi", "uvicorn", "uvloop", "asyncpg", "msgspec")),
    )  # fmt: skip


def _markdown(report: Report, argv: list[str]) -> str:
    lines = [
        f"Run {report.started_at}: `python -m bench.sse {shlex.join(argv)}`. One API worker; "
        f"{report.clients:,} SSE clients in one asyncio process, each following one of "
        f"{report.skus} SKUs (`types=adjusted`); a writer process adding one unit at a time "
        f"at {report.rate:g} events/s for {report.seconds:g} s through the durable engine. "
        f"Machine: {msgspec.json.encode(report.machine).decode()}.",
        "",
        "| written | delivered | lost | out of order | latency p50 / p99 / max ms "
        "| server RSS per client | server CPU s |",
        "|--:|--:|--:|--:|--:|--:|--:|",
        f"| {report.written:,} | {report.delivered:,} | {report.lost} | {report.reordered} | "
        f"{report.latency_ms_p50} / {report.latency_ms_p99} / {report.latency_ms_max} | "
        f"{report.rss_per_client_bytes:,.0f} B | {report.server_cpu_s} |",
        "",
        *targets_markdown(report.targets),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.sse", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 clients, 10 s")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000.0, help="position events/s")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true", help="write RESULTS.md when quick")
    parser.add_argument("--no-markdown", action="store_true", help="never write RESULTS.md")
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default=os.environ.get("ATP_REDIS_URL", REDIS_URL_DEFAULT))
    pg_dsn_option(parser)
    parser.set_defaults(pg_dsn=PG_DSN_DEFAULT)
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    if args.writer:
        skus = [f"S-{i:04d}" for i in range(args.skus)]
        print(msgspec.json.encode(asyncio.run(_writer(args, skus))).decode(), flush=True)
        return 0
    if args.quick:
        args.clients, args.seconds = min(args.clients, 200), min(args.seconds, 10.0)
    os.environ.update(
        {
            "ATP_REDIS_URL": args.redis_url,
            "ATP_RATE_LIMIT_PER_S": "0",
            "ATP_PG_DSN": args.pg_dsn,
            "ATP_ACCESS_LOG": "off",
        }
    )
    asyncio.run(fresh_database(args.pg_dsn))
    asyncio.run(_flush(args.redis_url))
    key = asyncio.run(admin_key(args.pg_dsn, "bench-sse"))
    server = serve.start(HOST, PORT, 1, "api.app:serve_app")
    try:
        if not serve.wait_ready(HOST, PORT, 60):
            raise SystemExit("the server did not start")
        report = asyncio.run(_measure(args, key, pids(server)[0]))
    finally:
        serve.stop(server)
    print(_markdown(report, argv))
    if args.json:
        write_json(args.json, report)
    if (not args.quick or args.markdown) and not args.no_markdown:
        title = "Change stream fan-out (python -m bench.sse)"
        update_markdown_section(RESULTS_MD, title, _markdown(report, argv), "# Benchmark results\n")
    return 0


async def _flush(url: str) -> None:
    from atp.redis_connect import connect

    redis = connect(url)
    try:
        await redis.command("FLUSHDB")
    finally:
        await redis.close()


if __name__ == "__main__":
    raise SystemExit(main())
