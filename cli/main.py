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
COMMAND_MODULES = (
    "cli.demo",
    "cli.serve",
    "cli.keys",
    "cli.journal",
    "cli.supply",
    "simulation.command",
)


def _option(
    parser: argparse.ArgumentParser,
    flags: tuple[str, str],
    dest: str,
    default: str,
    metavar: str,
    help_: str,
) -> None:
    """``flags[0]`` on every command; ``flags[1]``, its old spelling, parses but is not shown."""
    parser.add_argument(flags[0], dest=dest, default=default, metavar=metavar, help=help_)
    parser.add_argument(flags[1], dest=dest, default=default, help=argparse.SUPPRESS)


def redis_url_option(parser: argparse.ArgumentParser, dest: str = "redis_url") -> None:
    """``--redis-url``; ``--redis`` is the journal commands' old spelling."""
    default = os.environ.get("ATP_REDIS_URL", DEFAULT_REDIS_URL)
    help_ = (
        f"the ledger's Redis (env ATP_REDIS_URL, default {DEFAULT_REDIS_URL};"
        " redis+cluster://host:port[,host:port...] for a cluster)"
    )
    _option(parser, ("--redis-url", "--redis"), dest, default, "URL", help_)


def pg_dsn_option(parser: argparse.ArgumentParser, dest: str = "pg_dsn") -> None:
    """``--pg-dsn``; ``--dsn`` is the old spelling."""
    default = os.environ.get("ATP_PG_DSN", DEFAULT_DSN)
    help_ = f"PostgreSQL, the system of record (env ATP_PG_DSN, default {DEFAULT_DSN})"
    _option(parser, ("--pg-dsn", "--dsn"), dest, default, "DSN", help_)


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
