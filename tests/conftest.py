"""Fixtures on the real local Redis (started if down). Each test gets an empty database.

ATP_TEST_REDIS_URL picks the database (default db 15), so parallel work can be isolated.
Tests that kill or restart Redis start private servers (tests/servers.py), never this one.
"""

import shutil
import subprocess
import time
from collections.abc import AsyncIterator

import pytest
import redis
from testenv import REDIS_URL

from atp.clock import ManualClock
from engine.local import Engine


def _ensure_local_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if shutil.which("redis-server") is None:
            raise
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            check=True,
        )
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
    finally:
        client.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    _ensure_local_redis()


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def engine(redis_url: str, clock: ManualClock) -> AsyncIterator[Engine]:
    """An engine on an empty database with a manual clock (no sweeper running)."""
    eng = Engine.connect(redis_url, clock)
    yield eng
    await eng.close()


# Private servers the tests start and end themselves (tests/servers.py): the session's
# 3-master cluster (``redis_cluster``, ``cluster_url``) and a standalone ``private_redis``.
# PostgreSQL: the session's test database (``pg_dsn``, ``pool``) and ``db`` (emptied tables).
from pgtest import db, pg_dsn, pool  # noqa: E402, F401
from servers import cluster_url, private_redis, redis_cluster  # noqa: E402, F401
