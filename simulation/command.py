"""``atp simulate``: a seeded, accelerated retail day against a private engine, with its
report. It flushes the Redis database and empties the PostgreSQL database it is given:
never the ones a real engine serves from (database 0 is refused)."""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Final
from urllib.parse import urlparse

import msgspec

from simulation import checks, day, report
from simulation.config import PRESETS, DayConfig

REDIS_DEFAULT: Final = "redis://127.0.0.1:6379/14"
PG_DEFAULT: Final = "postgresql://postgres@127.0.0.1:5432/atp_retail_day"
PORT_DEFAULT: Final = 7440  # the alerts' receiver listens on the next port
OUT_DEFAULT: Final = Path("retail-day")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="small",
        help="small: 4 stores, about a minute; full: 12 stores, about 4 minutes",
    )  # fmt: skip
    p.add_argument("--stores", type=int, help="stores in the chain (default: the preset's)")
    p.add_argument("--skus", type=int, help="SKUs (default: the preset's)")
    p.add_argument("--shoppers", type=int, help="storefront sessions over the day")
    p.add_argument("--associates", type=int, help="associates per store (default 2)")
    p.add_argument("--rate", type=float, help="simulated seconds per real second")
    p.add_argument("--seed", type=int, help="the day's randomness (default 15)")
    p.add_argument("--out", type=Path, default=OUT_DEFAULT, help="where the report goes")
    p.add_argument("--port", type=int, default=PORT_DEFAULT, help="the private engine's port")
    p.add_argument("--workers", type=int, default=1, help="the engine's API processes")
    p.add_argument("--redis-url", default=REDIS_DEFAULT,
                   help=f"flushed: not database 0 (default {REDIS_DEFAULT})")  # fmt: skip
    p.add_argument("--pg-dsn", default=PG_DEFAULT,
                   help=f"created, emptied (default {PG_DEFAULT})")  # fmt: skip


def config_of(args: argparse.Namespace) -> DayConfig:
    base = PRESETS[args.preset]
    changes = {
        "stores": args.stores, "skus": args.skus, "shoppers": args.shoppers,
        "associates_per_store": args.associates, "rate": args.rate, "seed": args.seed,
    }  # fmt: skip
    return msgspec.structs.replace(base, **{k: v for k, v in changes.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    """Exit status 0 when every check passed, 1 when one failed, 2 on bad options."""
    if not int(urlparse(args.redis_url).path.lstrip("/") or 0):
        print("--redis-url must name a database other than 0: the day flushes it", file=sys.stderr)
        return 2
    try:
        config = config_of(args).validate()
    except ValueError as exc:
        print(f"atp simulate: {exc}", file=sys.stderr)
        return 2
    outcome = asyncio.run(day.run(config, port=args.port, redis_url=args.redis_url,
                                  pg_dsn=args.pg_dsn, workers=args.workers))  # fmt: skip
    found = checks.all_checks(outcome)
    written = report.write(outcome, found, args.out)
    for c in found:
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.name}: {c.detail}")
    print(f"report: {written} (and report.json, the charts, day-log.jsonl beside it)")
    return 0 if all(c.passed for c in found) else 1


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser(
        "simulate",
        help="run a seeded, accelerated retail day against a private engine and report the KPIs",
        description=__doc__,
    )
    add_options(p)
    p.set_defaults(handler=run)
