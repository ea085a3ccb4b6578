"""Fixtures on the real PostgreSQL (started if down) and Redis database 12.

ATP_TEST_PG_DSN names the journal's test database (created and migrated once per session,
emptied before each test); ATP_TEST_REDIS_URL the Redis database (default 12, flushed
before each test). Tests that kill Redis start private servers (servers.py), never these.
"""

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

# The journal package is importable from the repository root; until pyproject lists it for
# the editable install, a plain `pytest` run (not `python -m pytest`) needs the root on the path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pytest  # noqa: E402
import redis  # noqa: E402
from pgtest import PG_DSN, db, ensure_postgres, pg_dsn, pool, reset_database  # noqa: E402, F401

from atp.redis_io import RedisIO, connect  # noqa: E402

REDIS_URL = os.environ.get("ATP_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


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
