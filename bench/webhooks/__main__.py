"""Webhook deliveries (issue 13): deliveries/s from the changes feed to a local receiver
that verifies every signature (target >= 1,000/s on the 2-core machine), beside signed
POSTs straight from httpx in the same run; and the retry schedule honoured under a
receiver failing half the time.

``python -m bench.webhooks [--quick] [--json FILE] [--no-markdown] [--pg-dsn DSN]``

Needs PostgreSQL (the benchmark's own database, created, migrated and emptied before each
phase); no Redis. The receiver is a process of its own (bench/webhooks/receiver.py).
"""

import argparse
import time
from pathlib import Path

import msgspec
import uvloop

from bench.common.cli import fresh_database
from bench.common.machine import Machine, load_average, machine
from bench.common.results import RESULTS_MD, update_markdown_section, write_json
from bench.webhooks import retries, throughput
from bench.webhooks.report import TITLE, markdown

PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/atp_bench_webhooks"
PORT = 7410
PACKAGES = ("httpx", "asyncpg", "uvicorn", "standardwebhooks")


class Report(msgspec.Struct, frozen=True):
    mode: str
    started_at: str
    machine: Machine
    load_before: tuple[float, float, float]
    throughput: throughput.Throughput
    retries: retries.Retries


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer deliveries (a smoke run)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--no-markdown", action="store_true", help="leave RESULTS.md alone")
    parser.add_argument("--pg-dsn", default=PG_DSN_DEFAULT, help="the benchmark's database")
    parser.add_argument("--port", type=int, default=PORT, help="the receiver's port")
    return parser.parse_args()


async def _run(args: argparse.Namespace) -> Report:
    deliveries, retried = (3_000, 300) if args.quick else (20_000, 2_000)
    started_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = load_average()
    await fresh_database(args.pg_dsn)
    speed = await throughput.measure(args.pg_dsn, args.port, deliveries, skus=1_000)
    await fresh_database(args.pg_dsn)
    schedule = await retries.measure(args.pg_dsn, args.port, retried, skus=100)
    return Report(
        mode="quick" if args.quick else "full",
        started_at=started_at,
        machine=machine("none", PACKAGES),
        load_before=load,
        throughput=speed,
        retries=schedule,
    )


def main() -> None:
    args = _arguments()
    report = uvloop.run(_run(args))  # as in the API process (uvicorn runs uvloop)
    text = markdown(report)
    print(text)
    if args.json:
        write_json(args.json, report)
    if not args.no_markdown:
        update_markdown_section(RESULTS_MD, TITLE, text, "# Benchmark results\n")


if __name__ == "__main__":
    main()
