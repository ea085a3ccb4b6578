"""The alerts' background work in each API process: read the changes feed for restocks,
send, resend. Every process runs it; the feed's consumer row and the rows' locks (SKIP
LOCKED) share the work out, so each restock and each send is handled once."""

from collections.abc import Callable

import asyncpg

from alerts.consume import consume
from alerts.resend import resend_pass
from alerts.send import send_pass
from alerts.settings import AlertSettings, Now
from atp.availability import Availability
from atp.tasks import Periodic


class AlertsWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        availability: Availability,
        settings: AlertSettings,
        now: Now,
        ledger_ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.pool = pool
        self.ledger_ready = ledger_ready
        self.availability = availability
        self.settings = settings
        self.now = now
        self._task = Periodic("alerts", self.run_once, settings.interval_s)

    async def run_once(self) -> tuple[int, int, int]:
        """One pass of each step: (triggers recorded, sends, resends)."""
        async with self.pool.acquire() as conn:
            triggers = await consume(conn)
            # While Redis is being rebuilt its positions read low: a send would find the
            # stock gone and end the restock. Triggers wait in PostgreSQL instead.
            if not self.ledger_ready():
                return triggers, 0, 0
            sends = await send_pass(conn, self.availability, self.settings, self.now())
            resends = await resend_pass(conn, self.availability, self.now())
        return triggers, sends, resends

    def start(self) -> None:
        if self.settings.run_worker:
            self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
