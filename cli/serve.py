"""``atp serve`` (picked up by cli.main's registry; `atp keys` is cli/keys.py)."""

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from atp.redis_io import DEFAULT_REDIS_URL
from cli.main import redis_url_option


def _redis_url(args: argparse.Namespace) -> str:
    return str(args.redis_url or os.environ.get("ATP_REDIS_URL") or DEFAULT_REDIS_URL)


def serve(args: argparse.Namespace) -> int:
    from api.settings import SettingsError, from_env
    from cli import supervisor as runner

    os.environ["ATP_REDIS_URL"] = _redis_url(args)
    if args.pg_dsn:
        os.environ["ATP_PG_DSN"] = args.pg_dsn
    if not args.access_log:
        os.environ["ATP_ACCESS_LOG"] = "off"
    if args.dev:
        os.environ["ATP_ENV"] = "development"
        os.environ["ATP_AUTH"] = "off"
    try:
        settings = from_env().validate()  # refuse unsafe settings before any worker starts
    except SettingsError as exc:
        print(f"atp serve: {exc}", file=sys.stderr)
        return 2
    if (args.demo or args.journal) and settings.pg_dsn is None:
        print("atp serve: --demo and --journal need PostgreSQL: set ATP_PG_DSN", file=sys.stderr)
        return 2
    banner = _demo_banner(args, settings.pg_dsn) if args.demo else None
    journal = (settings.pg_dsn, settings.redis_url) if args.journal and settings.pg_dsn else None
    server = runner.start_server(args.host, args.port, args.workers, journal=journal)
    if not runner.wait_ready(args.host, args.port, server=server):
        runner.stop(server)
        if server.stopping:
            return 0
        print(
            "atp serve: workers did not become ready: are Redis and PostgreSQL up, and has "
            "`atp migrate` run?",
            file=sys.stderr,
        )
        return 1
    url = f"http://{args.host}:{args.port}"
    print(f"ATP API   {url}  ({args.workers} worker{'s' * (args.workers > 1)})")
    print(f"API docs  {url}/docs   (OpenAPI: {url}/openapi.json)")
    print(f"the page  {url}/ui/    (availability, live feed, store queue, reservations, KPIs)")
    if journal is not None:
        print("journal   running beside the workers: PostgreSQL follows every event")
    for line in banner(url) if banner is not None else []:
        print(line)
    if args.dev:
        print("auth is OFF (development mode): do not expose this server")
    sys.stdout.flush()
    return runner.supervise(server, args.duration)


def _demo_banner(args: argparse.Namespace, pg_dsn: str | None) -> Callable[[str], list[str]]:
    """Loads (or keeps) the demo chain and makes its keys before any worker starts;
    returns the banner for the server's URL."""
    from cli import demo_serve as demo

    assert pg_dsn is not None
    prepared = asyncio.run(demo.prepare(_redis_url(args), pg_dsn, args.reset))
    return lambda url: demo.banner(url, prepared)


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default=os.environ.get("ATP_HOST", "127.0.0.1"),
        help="address to listen on (env ATP_HOST, default 127.0.0.1)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("ATP_PORT", "8000")),
        help="port to listen on, shared by the workers (env ATP_PORT, default 8000)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="single-worker processes sharing the port"
    )
    redis_url_option(p)
    p.add_argument(
        "--pg-dsn",
        default=os.environ.get("ATP_PG_DSN"),
        metavar="DSN",
        help="PostgreSQL, the system of record (env ATP_PG_DSN)",
    )
    p.add_argument("--dsn", dest="pg_dsn", help=argparse.SUPPRESS)
    p.add_argument(
        "--journal",
        action="store_true",
        help="also run the journal consumer (atp journal), supervised like the workers",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="load the demo chain unless PostgreSQL has it already; print demo keys",
    )
    p.add_argument(
        "--reset", action="store_true", help="with --demo: load the demo chain's stock again"
    )
    p.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="no JSON line per request on stdout (env ATP_ACCESS_LOG=off)",
    )
    p.add_argument("--dev", action="store_true", help="development mode: authentication off")
    p.add_argument("--duration", type=float, help="stop after this many seconds (benchmarks)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP API")
    _serve_options(p)
    p.set_defaults(handler=serve)

    # `atp keys` lives in cli/keys.py (keys are in PostgreSQL).
