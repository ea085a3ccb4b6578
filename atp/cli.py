"""``atp``: one console script; each part of the product registers its own subcommands."""

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# Each module has register(subparsers) adding commands with set_defaults(handler=fn),
# where fn(args) -> int is the exit status.
COMMAND_MODULES = ("atp.demo", "api.commands", "journal.commands")


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
