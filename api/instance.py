"""This process's identity among the API processes, and whether another one still lives.

Each process holds the session advisory lock (LOCK_INSTANCE_CLASS, its instance id) on a
PostgreSQL connection of its own for as long as it runs. PostgreSQL drops the lock the
moment that session ends (the process died, was killed, or lost its connection), so
``alive(owner)`` is a look at pg_locks, with no lease to expire and no clock involved.
"""

import contextlib
import logging
import secrets

import asyncpg

from atp.tasks import Periodic
from durability.db import Conn
from durability.limits import LOCK_INSTANCE_CLASS

log = logging.getLogger(__name__)

RELOCK_INTERVAL_S = 0.5  # how often a lost lock session is looked at and taken again

_ALIVE = """
SELECT EXISTS (
    SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
    AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2
)
"""


def _new_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1  # a positive int4 (an advisory lock key)


class Instance:
    def __init__(self, dsn: str) -> None:
        self.id = _new_id()
        self._dsn = dsn
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._keeper = Periodic("instance-lock", self._keep, RELOCK_INTERVAL_S)

    async def start(self) -> None:
        await self._lock()
        self._keeper.start()

    async def stop(self) -> None:
        await self._keeper.stop()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _lock(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        await conn.execute("SELECT pg_advisory_lock($1, $2)", LOCK_INSTANCE_CLASS, self.id)
        self._conn = conn

    async def _keep(self) -> None:
        """Takes the lock again after PostgreSQL restarted (the session, and the lock, went)."""
        if self._conn is not None and not self._conn.is_closed():
            return
        try:
            await self._lock()
            log.info("instance lock taken again after a lost PostgreSQL session")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._conn = None  # PostgreSQL still away: the next pass tries again


async def alive(conn: Conn, owner: int) -> bool:
    return bool(await conn.fetchval(_ALIVE, LOCK_INSTANCE_CLASS, owner))
