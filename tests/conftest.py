"""Fixtures every folder shares. Nothing starts at session start: the machine's Redis and
PostgreSQL are checked (and started if down) by the first fixture that needs them, once
per session (support/machine.py), so the pure core runs with no server at all.

- ``redis_url`` / ``engine``: the machine's Redis (ATP_TEST_REDIS_URL, default db 15),
  emptied for each test; ``clock`` a manual clock (no sweeper runs).
- ``jredis_url`` / ``rio``: the durability suites' Redis (ATP_TEST_REDIS_URL, default db 12).
- ``pg_dsn`` / ``pool`` / ``db``: the PostgreSQL test database (support/postgres.py).
- ``redis_cluster`` / ``cluster_url`` / ``private_redis``: private servers the tests start
  and end themselves (support/servers.py), never the machine's.

A test that asks for any of these is marked ``servers``; ``pytest -m "not servers"`` runs
the rest, which needs no server. A test that starts servers without these fixtures marks
itself (``pytestmark = pytest.mark.servers``).
"""

from collections.abc import AsyncIterator

import pytest
import redis

from atp.clock import ManualClock
from atp.redis_connect import connect
from atp.redis_io import RedisIO
from engine.local import Engine
from support.env import JOURNAL_REDIS_URL, REDIS_URL
from support.machine import ensure_redis
from support.postgres import db, pg_dsn, pool  # noqa: F401  (fixtures, registered here)
from support.servers import cluster_url, private_redis, redis_cluster  # noqa: F401

SERVER_FIXTURES = frozenset(
    {
        "local_redis",
        "journal_redis",
        "pg_dsn",
        "redis_cluster",
        "private_redis",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks ``servers`` every test whose fixtures reach a server, however indirectly."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


def _emptied(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def local_redis() -> str:
    """The machine's Redis for the engine tests, answering (started if down)."""
    ensure_redis(REDIS_URL)
    return REDIS_URL


@pytest.fixture(scope="session")
def journal_redis() -> str:
    """The machine's Redis for the durability suites, answering (started if down)."""
    ensure_redis(JOURNAL_REDIS_URL)
    return JOURNAL_REDIS_URL


@pytest.fixture
def redis_url(local_redis: str) -> str:
    return _emptied(local_redis)


@pytest.fixture
def jredis_url(journal_redis: str) -> str:
    return _emptied(journal_redis)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def engine(redis_url: str, clock: ManualClock) -> AsyncIterator[Engine]:
    """An engine on an empty database with a manual clock (no sweeper running)."""
    eng = Engine.connect(redis_url, clock)
    yield eng
    await eng.close()


@pytest.fixture
async def rio(jredis_url: str) -> AsyncIterator[RedisIO]:
    io = connect(jredis_url)
    yield io
    await io.close()
