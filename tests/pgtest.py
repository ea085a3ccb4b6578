"""PostgreSQL for the tests: the machine's server (started if down), one test database
(ATP_TEST_PG_DSN, created and migrated once per session, its tables emptied before each
test that asks for ``db``). Tests that kill PostgreSQL start private servers instead."""

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest

from durability.db import create_database
from durability.migrate import migrate

PG_DSN = os.environ.get("ATP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/atp_j_test")

_TABLES = """
SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
"""


def _pg_up() -> bool:
    parsed = urlparse(PG_DSN)
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((parsed.hostname or "127.0.0.1", parsed.port or 5432)) == 0


def ensure_postgres() -> None:
    """Starts the machine's PostgreSQL cluster if it is down (tests never skip for it)."""
    if _pg_up():
        return
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        raise RuntimeError("PostgreSQL is down and no local cluster to start was found")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True
    )
    for _ in range(50):
        if _pg_up():
            return
        time.sleep(0.2)
    raise RuntimeError("PostgreSQL did not come up")


async def reset_database(dsn: str) -> None:
    await create_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await migrate(conn)
    finally:
        await conn.close()


async def empty_tables(pool: asyncpg.Pool) -> None:
    tables = await pool.fetchval(_TABLES)
    await pool.execute(f"TRUNCATE {tables} RESTART IDENTITY")


@pytest.fixture(scope="session")
async def pg_dsn() -> str:
    await asyncio.to_thread(ensure_postgres)
    await reset_database(PG_DSN)
    return PG_DSN


@pytest.fixture(scope="session")
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
    assert created is not None
    yield created
    await created.close()


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The pool, on empty tables."""
    await empty_tables(pool)
    return pool
