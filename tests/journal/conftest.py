"""Fixtures on the real PostgreSQL (started if down) and Redis database 12.

ATP_TEST_PG_DSN names the journal's test database (created and migrated once per session,
emptied before each test); ATP_TEST_REDIS_URL the Redis database (default 12, flushed
before each test). Tests that kill Redis start private servers (servers.py), never these.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

# The journal package is importable from the repository root; until pyproject lists it for
# the editable install, a plain `pytest` run (not `python -m pytest`) needs the root on the path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import asyncpg  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402

from atp.redis_io import RedisIO, connect  # noqa: E402
from journal.db import create_database  # noqa: E402
from journal.migrate import migrate  # noqa: E402

PG_DSN = os.environ.get("ATP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/atp_j_test")
REDIS_URL = os.environ.get("ATP_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")

_TABLES = (
    "ledger_events, positions, reservations, ledger_epochs, location_group_members, "
    "location_groups, locations, skus"
)


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
    await pool.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY")
    return pool


@pytest.fixture
def jredis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture
async def rio(jredis_url: str) -> AsyncIterator[RedisIO]:
    io = connect(jredis_url)
    yield io
    await io.close()
