"""``atp migrate | journal | rebuild | verify | import | seed-demo``.

Settings: --pg-dsn (env ATP_PG_DSN) and --redis-url (env ATP_REDIS_URL); the old spellings
--dsn and --redis still parse. Exit status 0 on
success, 1 on a refusal or failure, 2 when an import loaded some rows and rejected others.
"""

import argparse
import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from atp import actor
from atp.redis_connect import connect
from catalog.csvrows import FileRefused, Progress, write_errors
from catalog.importer import ImportReport, import_locations, import_quantities
from cli.main import pg_dsn_option, redis_url_option
from durability.db import create_database, create_pool
from durability.limits import JOURNAL_CONSUMERS_MAX
from durability.migrate import MigrationError, migrate
from durability.rebuild import ensure_ledger, ledger_state, rebuild
from durability.verify import JournalGap, replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.durable import DurableEngine


def common_options(parser: argparse.ArgumentParser, redis: bool = True) -> None:
    pg_dsn_option(parser, dest="dsn")
    if redis:
        redis_url_option(parser, dest="redis")


Main = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def run_command(main: Main) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        try:
            with actor.acting(actor.CLI):  # what a command writes says `atp` did it
                return asyncio.run(main(args))
        except (MigrationError, FileRefused, JournalGap, OSError) as error:
            print(f"atp {args.command}: {error}", file=sys.stderr)
            return 1

    return handler


async def _migrate(args: argparse.Namespace) -> int:
    if args.create and await create_database(args.dsn):
        print(f"created database {args.dsn.rsplit('/', 1)[1]}")
    pool = await create_pool(args.dsn, 1)
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
    finally:
        await pool.close()
    for m in applied:
        print(f"applied {m.version:04d}_{m.name}")
    print("schema is up to date" if not applied else f"{len(applied)} migration(s) applied")
    return 0


async def _journal(args: argparse.Namespace) -> int:
    pool = await create_pool(args.dsn)
    redis = connect(args.redis)
    try:
        async with pool.acquire() as conn:
            await ensure_ledger(redis, conn)
        await create_groups(redis)
        # Several consumers in one process overlap parsing one batch with writing another.
        writers = [
            JournalWriter(redis, pool, f"{args.consumer}-{i}") for i in range(args.consumers)
        ]
        if args.once:
            drained = await asyncio.gather(*(w.drain() for w in writers))
            print(f"journaled {sum(drained)} entries")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"journal writer {args.consumer} running; Ctrl-C stops it", file=sys.stderr)
        await asyncio.gather(*(w.run(stop) for w in writers))
        written = sum(w.written_total for w in writers)
        print(f"stopped after {written} new events", file=sys.stderr)
        return 0
    finally:
        await redis.close()
        await pool.close()


async def _rebuild(args: argparse.Namespace) -> int:
    pool = await create_pool(args.dsn)
    redis = connect(args.redis)
    try:
        async with pool.acquire() as conn:
            state = await ledger_state(redis, conn)
            if state == "ok" and not args.force:
                print("the ledger in Redis is complete; --force rebuilds it anyway")
                return 0
            report = await rebuild(redis, conn, "manual" if state == "ok" else f"ledger {state}")
        print(
            f"epoch {report.epoch}: {report.positions:,} positions, {report.supplies:,} supplies,"
            f" {report.reservations:,} live reservations, {report.receipts:,} receipts"
            f" in {report.seconds:.1f} s"
        )
        return 0
    finally:
        await redis.close()
        await pool.close()


async def _verify(args: argparse.Namespace) -> int:
    pool = await create_pool(args.dsn)
    redis = connect(args.redis)
    try:
        if args.drain:
            await JournalWriter(redis, pool, f"verify-{os.getpid()}").drain()
        async with pool.acquire() as conn:
            diffs = await verify(redis, conn)
            if args.replay:
                replayed = await replay_positions(conn)
                print(f"journal replays cleanly to {len(replayed):,} positions")
        for d in diffs:
            print(f"{d.kind} {d.key}: redis {d.redis} journal {d.journal}")
        print(f"{len(diffs)} difference(s)")
        return 1 if diffs else 0
    finally:
        await redis.close()
        await pool.close()


def _import_handler(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"atp import: no such file {path}", file=sys.stderr)
        return 1
    args.size = path.stat().st_size
    return run_command(_import)(args)


async def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    pool = await create_pool(args.dsn)
    engine = await DurableEngine.open(args.redis, pool)
    progress = Progress(f"import {args.kind}", args.size)
    try:
        async with pool.acquire() as conn:
            with actor.acting(f"import:{path.name}"):  # the journal names the file
                if args.kind == "locations":
                    report = await import_locations(conn, engine, path, progress)
                else:
                    report = await import_quantities(conn, engine, args.kind, path, progress)
    finally:
        await engine.close()
        await pool.close()
    return _print_report(report, Path(args.errors) if args.errors else None)


def _print_report(report: ImportReport, errors_file: Path | None) -> int:
    for e in report.errors[:50]:
        print(f"line {e.line}: {e.field or '(row)'}: {e.reason}", file=sys.stderr)
    if report.errors_total > 50:
        print(f"... {report.errors_total - 50} more row errors", file=sys.stderr)
    if errors_file is not None:
        write_errors(errors_file, report.errors)
    print(
        f"{report.kind}: {report.rows_read:,} rows read, {report.rows_changed:,} written,"
        f" {report.rows_unchanged:,} unchanged, {report.errors_total:,} rejected"
    )
    return 2 if report.errors_total else 0


async def _seed(args: argparse.Namespace) -> int:
    from catalog.demo_retailer import seed_demo  # builds a catalog: only when asked

    report = await seed_demo(args.dsn, args.redis, args.stores, args.skus, args.seed)
    print(
        f"demo chain: {report.locations} locations, {report.skus:,} SKUs,"
        f" {report.stock.rows_changed:,} stock and {report.safety.rows_changed:,} safety"
        " positions written"
    )
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser("migrate", help="apply the PostgreSQL migrations")
    common_options(p, redis=False)
    p.add_argument("--create", action="store_true", help="create the database if missing")
    p.set_defaults(handler=run_command(_migrate))

    p = subparsers.add_parser("journal", help="run the journal writer (stream consumer)")
    common_options(p)
    p.add_argument(
        "--consumer",
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="this consumer's name in the streams' group (default host-pid)",
    )
    p.add_argument(
        "--consumers",
        type=int,
        choices=range(1, JOURNAL_CONSUMERS_MAX + 1),
        default=2,
        metavar=f"1..{JOURNAL_CONSUMERS_MAX}",
        help="stream consumers in this process (default 2)",
    )
    p.add_argument("--once", action="store_true", help="journal what is there, then exit")
    p.set_defaults(handler=run_command(_journal))

    p = subparsers.add_parser("rebuild", help="rebuild the Redis ledger from PostgreSQL")
    common_options(p)
    p.add_argument("--force", action="store_true", help="even if Redis looks complete")
    p.set_defaults(handler=run_command(_rebuild))

    p = subparsers.add_parser("verify", help="compare the Redis ledger with the journal")
    common_options(p)
    p.add_argument("--drain", action="store_true", help="journal pending stream entries first")
    p.add_argument("--replay", action="store_true", help="also replay the journal from zero")
    p.set_defaults(handler=run_command(_verify))

    p = subparsers.add_parser("import", help="bulk-load locations, stock or safety from CSV")
    common_options(p)
    p.add_argument("kind", choices=("locations", "stock", "safety"), help="what FILE holds")
    p.add_argument("file", help="a CSV file (docs/postgres.md describes the columns)")
    p.add_argument("--errors", help="also write the rejected rows' reasons to this CSV")
    p.set_defaults(handler=_import_handler)

    p = subparsers.add_parser("seed-demo", help="load the demo retailer (Oslo area)")
    common_options(p)
    p.add_argument("--stores", type=int, default=20, help="stores, 10 to 50 (default 20)")
    p.add_argument("--skus", type=int, default=5_000, help="SKUs, 5,000 to 50,000 (default 5,000)")
    p.add_argument("--seed", type=int, default=42, help="random seed: same seed, same chain")
    p.set_defaults(handler=run_command(_seed))
