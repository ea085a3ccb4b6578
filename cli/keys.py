"""``atp keys create|list|revoke``: API keys in PostgreSQL (api/keystore.py)."""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from atp.model import Channel, InvalidInput
from cli.main import pg_dsn_option

T = TypeVar("T")


async def _with_conn(dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await work(conn)
    finally:
        await conn.close()


def keys_create(args: argparse.Namespace) -> int:
    from api.keystore import create_key

    async def create(conn: Any) -> tuple[str, str]:
        channels = args.channel or None
        return await create_key(
            conn, args.scope, args.location, args.name, args.rate, channels, created_by="cli"
        )

    try:
        key_id, key = asyncio.run(_with_conn(args.pg_dsn, create))
    except InvalidInput as exc:
        print(f"atp keys create: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    print(key)  # shown once: only its hash is stored
    print(f"key id {key_id} (atp keys revoke {key_id} to revoke it)", file=sys.stderr)
    return 0


def keys_list(args: argparse.Namespace) -> int:
    from api.keystore import list_keys

    found = asyncio.run(_with_conn(args.pg_dsn, lambda c: list_keys(c, args.all)))
    print(f"{'key id':<14} {'name':<20} {'scopes':<40} {'lanes':<30} last used")
    for k in found:
        lanes = ",".join(k.channels) + (f" @{','.join(k.locations)}" if k.locations else "")
        used = "never" if k.last_used_at is None else k.last_used_at.isoformat(timespec="seconds")
        revoked = " (revoked)" if k.revoked_at is not None else ""
        print(
            f"{k.key_id:<14} {k.name[:20]:<20} {','.join(k.scopes):<40} {lanes:<30} {used}{revoked}"
        )
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    from api.keystore import revoke_key

    if asyncio.run(_with_conn(args.pg_dsn, lambda c: revoke_key(c, args.key))):
        print("revoked")
        return 0
    print("no live key with that id", file=sys.stderr)
    return 1


def register(subparsers: Any) -> None:
    from api.auth import Scope

    keys = subparsers.add_parser("keys", help="create, list or revoke API keys")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    c = sub.add_parser("create", help="create a key; it is printed once")
    c.add_argument(
        "--scope",
        action="append",
        required=True,
        help=f"repeatable; one of: {', '.join(s.value for s in Scope)}",
    )
    c.add_argument(
        "--location", action="append", default=[], help="bind to a store (a register); repeatable"
    )
    c.add_argument(
        "--channel",
        action="append",
        default=[],
        help=f"repeatable; one of: {', '.join(Channel)} (default: store for a key bound to "
        "locations, online otherwise, both for admin)",
    )
    c.add_argument("--name", default="", help="a label for people (shown when listing keys)")
    c.add_argument("--rate", type=float, help="requests per second (default: the server's)")
    pg_dsn_option(c)
    c.set_defaults(handler=keys_create)
    ls = sub.add_parser("list", help="list keys: scopes, lanes, last use (never secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    pg_dsn_option(ls)
    ls.set_defaults(handler=keys_list)
    r = sub.add_parser("revoke", help="revoke a key (the key or its id)")
    r.add_argument("key", help="the key, or its id")
    pg_dsn_option(r)
    r.set_defaults(handler=keys_revoke)
