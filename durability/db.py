"""Where PostgreSQL is and how to reach it; pools are created by their owners' lifespans."""

import os
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlparse, urlunparse

import asyncpg

from atp.redis_io import DEFAULT_REDIS_URL
from atp.tasks import ended_within

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A bare connection or one borrowed from a pool: the code using it cannot tell.
    Conn: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Conn = asyncpg.Connection

# Anything a single statement can run on: a connection, or a pool (which borrows one).
Queryable: TypeAlias = "Conn | asyncpg.Pool"

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/atp"


def dsn_from_env() -> str:
    return os.environ.get("ATP_PG_DSN", DEFAULT_DSN)


def redis_url_from_env() -> str:
    return os.environ.get("ATP_REDIS_URL", DEFAULT_REDIS_URL)


def database_name(dsn: str) -> str:
    name = urlparse(dsn).path.lstrip("/")
    if not name:
        raise ValueError(f"the PostgreSQL DSN names no database: {dsn}")
    return name


async def create_database(dsn: str) -> bool:
    """Creates the DSN's database if it is missing (via the server's postgres database).
    Returns True when it was created."""
    name = database_name(dsn)
    admin = urlunparse(urlparse(dsn)._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        # Identifiers cannot be parameters; quote_ident makes any name safe.
        quoted = await conn.fetchval("SELECT quote_ident($1)", name)
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()


class PooledConnection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset statement.

    asyncpg sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every
    release: one more round trip for each journal flush and each idempotency claim and
    answer (bench.hold: ~30 us of a hold, ~340 us of an idempotent one). Nothing borrowed
    from these pools leaves session state: no SET, LISTEN or cursor outside a transaction,
    and the two session advisory locks (durability/rebuild.py, durability/migrate.py) are
    released in ``finally``. An open transaction is still rolled back on release.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, max_size: int = 4) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=max_size, connection_class=PooledConnection
    )
    assert pool is not None
    return pool


async def close_pool(pool: asyncpg.Pool, within_s: float) -> None:
    """Closes gracefully, waiting for connections in use; if one is still held after
    ``within_s`` (a task that never gave it back), the pool is terminated instead."""
    if not await ended_within("closing the PostgreSQL pool", pool.close(), within_s):
        pool.terminate()
