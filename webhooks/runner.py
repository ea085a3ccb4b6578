"""What an API process runs for webhooks (api/app.py's lifespan): the feed's fan-out and a
deliverer, started and stopped together."""

import asyncio
import logging
import random
from collections.abc import Callable

import asyncpg

from atp.tasks import Periodic, cancel_and_wait
from durability.db import create_pool
from webhooks.deliverer import Deliverer, wall_ms
from webhooks.fanout import fan_out
from webhooks.limits import FANOUT_BATCH_MAX, FANOUT_INTERVAL_S, POOL_SIZE

log = logging.getLogger(__name__)


class Webhooks:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        allow_private: bool,
        now_ms: Callable[[], int] = wall_ms,
        rng: random.Random | None = None,
    ) -> None:
        self.pool = pool
        self.now_ms = now_ms
        self.deliverer = Deliverer(pool, allow_private=allow_private, now_ms=now_ms, rng=rng)
        self._fanout = Periodic("webhooks-fanout", self.fan_out, FANOUT_INTERVAL_S)
        self._delivering: asyncio.Task[None] | None = None
        self._owns_pool = False

    @classmethod
    async def connect(cls, dsn: str, *, allow_private: bool) -> "Webhooks":
        """With a pool of its own: a burst of deliveries never waits on, or delays, the
        API's connections."""
        runner = cls(await create_pool(dsn, POOL_SIZE), allow_private=allow_private)
        runner._owns_pool = True
        return runner

    async def fan_out(self) -> int:
        """Every change the feed has now, in bounded batches; returns deliveries recorded."""
        recorded = 0
        while True:
            batch = await fan_out(self.pool, self.now_ms)
            recorded += batch.deliveries
            if batch.deliveries:
                self.deliverer.wake()
            if batch.changes < FANOUT_BATCH_MAX:
                return recorded

    def start(self) -> None:
        self._fanout.start()
        if self._delivering is None:
            self._delivering = asyncio.create_task(self.deliverer.run(), name="webhooks-deliver")

    async def stop(self) -> None:
        await self._fanout.stop()
        task, self._delivering = self._delivering, None
        await cancel_and_wait(task)
        await self.deliverer.close()
        if self._owns_pool:
            await self.pool.close()
