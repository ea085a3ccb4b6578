"""PostgreSQL for the tests: the machine's server (started on first use if down), one test
database (ATP_TEST_PG_DSN, created and migrated once per session, its tables emptied before
each test that asks for ``db``). Tests that kill PostgreSQL start private servers instead.
The fixtures are registered by tests/conftest.py."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from durability.db import create_database, create_pool
from durability.migrate import empty_tables as emptied
from durability.migrate import migrate
from support.env import PG_DSN
from support.machine import ensure_postgres


async def reset_database(dsn: str) -> None:
    await create_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await migrate(conn)
    finally:
        await conn.close()


async def empty_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await emptied(conn)


@pytest.fixture(scope="session")
async def pg_dsn() -> str:
    await asyncio.to_thread(ensure_postgres, PG_DSN)
    await reset_database(PG_DSN)
    return PG_DSN


@pytest.fixture(scope="session")
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(pg_dsn)  # the engine's pools: released without a reset
    yield created
    await created.close()


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The pool, on empty tables."""
    await empty_tables(pool)
    return pool
