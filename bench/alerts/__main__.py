"""Back-in-stock alerts end to end: the stock write that makes a SKU available, through the
journal, the changes sequencer's ``back_in_stock``, the alerts worker's re-check and send,
to the ``alert.triggered`` delivery recorded (and delivered to a local receiver), with
100,000 subscriptions waiting on that SKU.

``python -m bench.alerts [--quick] [--json FILE] [--no-markdown]``
"""

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from bench.alerts.receiver import Receiver
from bench.alerts.report import TARGET_P99_MS, TITLE, Latency, Report, markdown
from bench.alerts.seed import LOCATION, SKU, seed
from bench.common.cli import admin_key, fresh_database, refuse_database_zero
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import percentile_ns, target
from bench.pos.__main__ import _flush, _redis_pid
from bench.pos.servers import Servers, server_env

ROOT = Path(__file__).resolve().parents[2]
PORT = 7336
REDIS_DEFAULT = "redis://127.0.0.1:6379/11"
PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/atp_bench_alerts"
SUBSCRIBERS_PER_UNIT = 3  # the default, set explicitly so the figures say what they ran
ROUND_WAIT_S = 30.0  # a restock whose sends take longer stops the run
POLL_S = 0.002
PAUSE_S_MAX = 0.2  # between rounds, at random: restocks fall anywhere in the worker's cycle
_COUNT = "SELECT count(*) FROM webhook_deliveries WHERE type = 'alert.triggered'"


async def _adjust(client: httpx.AsyncClient, delta: int, reason: str) -> None:
    body = {"sku": SKU, "location": LOCATION, "delta": delta, "reason": reason}
    reply = await client.post("/v1/stock/adjustments", json=body)
    assert reply.status_code == 200, reply.text


async def _recorded(conn: asyncpg.Connection, at_least: int) -> float:
    deadline = time.monotonic() + ROUND_WAIT_S
    while await conn.fetchval(_COUNT) < at_least:
        if time.monotonic() > deadline:
            raise SystemExit(f"no {at_least} alert.triggered deliveries in {ROUND_WAIT_S} s")
        await asyncio.sleep(POLL_S)
    return time.time()


async def _big_restock(
    args: argparse.Namespace, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> tuple[float, float]:
    """One restock of ``--big-units`` (sent over several bounded passes): seconds to its
    first and to its last send recorded."""
    before = await conn.fetchval(_COUNT)
    t0 = time.time()
    await _adjust(client, args.big_units, "receipt")
    first = await _recorded(conn, before + 1)
    last = await _recorded(conn, before + args.big_units * SUBSCRIBERS_PER_UNIT)
    return first - t0, last - t0


async def _rounds(
    args: argparse.Namespace, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> tuple[list[float], dict[str, float]]:
    """Per measured round the recorded latency (s), and each send's round start."""
    per_restock = args.units * SUBSCRIBERS_PER_UNIT
    recorded: list[float] = []
    started: dict[str, float] = {}
    seen: set[str] = set()
    for round_ in range(args.rounds + 1):  # round 0 warms up
        t0 = time.time()
        await _adjust(client, args.units, "receipt")
        t1 = await _recorded(conn, (round_ + 1) * per_restock)
        ids = {r["id"] for r in await conn.fetch("SELECT id FROM alert_sends")} - seen
        seen |= ids
        if round_:
            recorded.append(t1 - t0)
            started.update(dict.fromkeys(ids, t0))
        await _adjust(client, -args.units, "sale")
        await asyncio.sleep(random.uniform(0, PAUSE_S_MAX))
    return recorded, started


def _latency(seconds: list[float]) -> Latency:
    ordered = sorted(int(s * 1e9) for s in seconds)
    return Latency(
        len(ordered),
        percentile_ns(ordered, 50) / 1e6,
        percentile_ns(ordered, 99) / 1e6,
        ordered[-1] / 1e6,
    )


async def _run(args: argparse.Namespace, receiver: Receiver, key: str) -> tuple[Report, float]:
    seed_start = time.monotonic()
    await seed(args.pg_dsn, args.subscriptions, f"http://127.0.0.1:{receiver.port}/alerts")
    seed_s = time.monotonic() - seed_start
    servers = Servers()
    env = server_env(
        args.redis_url,
        servers.tmp / "state",
        ATP_PG_DSN=args.pg_dsn,
        ATP_ENV="development",  # for the receiver on loopback (private addresses)
        ATP_WEBHOOKS_ALLOW_PRIVATE="on",
        ATP_ALERTS_SUBSCRIBERS_PER_UNIT=str(SUBSCRIBERS_PER_UNIT),
    )
    try:
        worker = await asyncio.to_thread(servers.start, "alerts", ROOT, PORT, env)
        headers = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{PORT}"
        conn = await asyncpg.connect(args.pg_dsn)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            load_start, snapshot = load_average(), cpu_snapshot()
            recorded, started = await _rounds(args, client, conn)
            big = await _big_restock(args, client, conn) if args.big_units else (0.0, 0.0)
            use = cpu_use(snapshot, cpu_snapshot(), _redis_pid())
            load_end = load_average()
            await receiver.wait_for(set(started), ROUND_WAIT_S)
            twice = await conn.fetchval(
                "SELECT count(*) - count(DISTINCT subscription_id) FROM alert_sends"
            )
        await conn.close()
    finally:
        await asyncio.to_thread(servers.stop)
    delivered = [receiver.arrived[s] - t0 for s, t0 in started.items() if s in receiver.arrived]
    server_share = sum(p.core_share for p in use.busy_processes if p.pid == worker)
    rec = _latency(recorded)
    report = Report(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command="python -m bench.alerts" + (" --quick" if args.quick else ""),
        mode="quick" if args.quick else "full",
        subscriptions=args.subscriptions,
        rounds=args.rounds,
        units_per_restock=args.units,
        subscribers_per_unit=SUBSCRIBERS_PER_UNIT,
        sends=len(started),
        subscribers_told_twice=int(twice),
        recorded=rec,
        delivered=_latency(delivered) if delivered else Latency(0, 0, 0, 0),
        undelivered=len(set(started) - set(receiver.arrived)),
        target=target(
            "alert p99, stock write to delivery recorded",
            rec.p99_ms,
            TARGET_P99_MS,
            "ms",
            "at_most",
        ),
        seed_s=round(seed_s, 1),
        big_units=args.big_units,
        big_first_ms=round(big[0] * 1000, 1),
        big_last_ms=round(big[1] * 1000, 1),
        load_average_start=load_start,
        load_average_end=load_end,
        others_core_share=round(max(0.0, use.others_core_share - server_share), 2),
        server_core_share=round(server_share, 2),
        busy=[f"{p.command} {p.core_share}" for p in use.busy_processes],
        machine=machine("7.0", ("uvicorn", "uvloop", "asyncpg", "msgspec", "httpx")),
    )
    return report, seed_s


async def _measure(args: argparse.Namespace) -> Report:
    _flush(args.redis_url)
    await fresh_database(args.pg_dsn)
    key = await admin_key(args.pg_dsn, "bench-alerts")
    receiver = Receiver()
    await receiver.start()
    try:
        report, _ = await _run(args, receiver, key)
    finally:
        await receiver.stop()
        _flush(args.redis_url)  # leave the shared Redis as found
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 rounds (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--no-markdown", action="store_true", help="leave RESULTS.md alone")
    parser.add_argument("--redis-url", default=REDIS_DEFAULT)
    parser.add_argument("--pg-dsn", default=PG_DSN_DEFAULT, help="created, migrated, emptied")
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=None, help="default 200 (quick: 20)")
    parser.add_argument("--units", type=int, default=10, help="units per restock")
    parser.add_argument(
        "--big-units", type=int, default=1000, help="a last restock this large (0: none)"
    )
    args = parser.parse_args(argv)
    refuse_database_zero(parser, args.redis_url)
    if args.rounds is None:
        args.rounds = 20 if args.quick else 200
    if (
        (args.rounds + 1) * args.units + args.big_units
    ) * SUBSCRIBERS_PER_UNIT > args.subscriptions:
        parser.error("more sends than subscriptions: lower --rounds or --units")
    report = asyncio.run(_measure(args))
    text = markdown(report)
    print(text)
    if args.json:
        write_json(args.json, report)
    if not args.no_markdown:
        update_markdown_section(RESULTS_MD, TITLE, text, "# Benchmark results\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
