"""What every benchmark's command line shares."""

import argparse
from urllib.parse import urlparse


def refuse_database_zero(parser: argparse.ArgumentParser, redis_url: str) -> None:
    """The benchmarks flush their database; database 0 is the default one (the demo's)."""
    if not int(urlparse(redis_url).path.lstrip("/") or 0):
        parser.error("--redis-url must name a database other than 0: the benchmark flushes it")


PG_DSN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/atp_bench"


def pg_dsn_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg-dsn",
        default=PG_DSN_DEFAULT,
        help="the benchmark's own PostgreSQL database (created, migrated and emptied; the "
        f"server acknowledges writes only once durable there), default {PG_DSN_DEFAULT}",
    )


async def fresh_database(dsn: str) -> None:
    """Creates and migrates the benchmark's database and empties every table."""
    import asyncpg

    from durability.db import create_database
    from durability.migrate import empty_tables, migrate

    await create_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await empty_tables(conn)  # but the rows migrations seed (the policies)
    finally:
        await conn.close()


async def admin_key(dsn: str, name: str) -> str:
    import asyncpg

    from api.auth import Scope
    from api.keystore import create_key

    conn = await asyncpg.connect(dsn)
    try:
        return (await create_key(conn, [Scope.admin], [], name))[1]
    finally:
        await conn.close()
