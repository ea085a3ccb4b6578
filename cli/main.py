"""``atp``: one console script; each part of the product registers its own subcommands."""

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence

from atp.redis_io import DEFAULT_REDIS_URL
from durability.db import DEFAULT_DSN

# Each module has register(subparsers) adding commands with set_defaults(handler=fn),
# where fn(args) -> int is the exit status.
COMMAND_MODULES = ("cli.demo", "cli.serve", "cli.keys", "cli.journal", "cli.supply")


def redis_url_option(parser: argparse.ArgumentParser, dest: str = "redis_url") -> None:
    """``--redis-url`` on every command; ``--redis`` (the journal commands' old spelling)
    still parses but is not shown."""
    default = os.environ.get("ATP_REDIS_URL", DEFAULT_REDIS_URL)
    parser.add_argument(
        "--redis-url",
        dest=dest,
        default=default,
        metavar="URL",
        help=f"the ledger's Redis (env ATP_REDIS_URL, default {DEFAULT_REDIS_URL};"
        " redis+cluster://host:port for a cluster)",
    )
    parser.add_argument("--redis", dest=dest, default=default, help=argparse.SUPPRESS)


def pg_dsn_option(parser: argparse.ArgumentParser, dest: str = "pg_dsn") -> None:
    """``--pg-dsn`` on every command; ``--dsn`` (the old spelling) parses, hidden."""
    default = os.environ.get("ATP_PG_DSN", DEFAULT_DSN)
    parser.add_argument(
        "--pg-dsn",
        dest=dest,
        default=default,
        metavar="DSN",
        help=f"PostgreSQL, the system of record (env ATP_PG_DSN, default {DEFAULT_DSN})",
    )
    parser.add_argument("--dsn", dest=dest, default=default, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atp", description="availability-to-promise engine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        package = name.rsplit(".", 1)[0]
        if importlib.util.find_spec(package) is None or importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
