"""Claims due deliveries and attempts them, at most ``IN_FLIGHT_MAX`` at once, recording
each outcome: 2xx delivered; 410 disables the endpoint; anything else is tried again on the
backoff schedule (webhooks/schedule.py) until it is dead. Every API process may run one:
claims are leased rows (webhooks/claims.py), so they share the work without a leader."""

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable

import asyncpg
import httpx

from webhooks import claims, sender
from webhooks.claims import Claimed, Outcome
from webhooks.limits import CLAIM_BATCH_MAX, IN_FLIGHT_MAX, LEASE_MS, POLL_INTERVAL_S
from webhooks.schedule import after_failure

log = logging.getLogger(__name__)
_RELEASE = """
UPDATE webhook_deliveries SET lease_until_ms = 0, lease_owner = ''
WHERE lease_owner = $1 AND state = 'pending'
"""


def wall_ms() -> int:
    return int(time.time() * 1000)


class Deliverer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        allow_private: bool,
        now_ms: Callable[[], int] = wall_ms,
        rng: random.Random | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.pool = pool
        self.allow_private = allow_private
        # Scheduling time (injectable: tests walk the backoff schedule without waiting).
        # The signature's timestamp is always the wall clock: receivers check it with theirs.
        self.now_ms = now_ms
        self.rng = rng or random.Random()
        self.http = http or sender.client()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._in_flight: set[asyncio.Task[None]] = set()
        self._finished: list[Outcome] = []  # attempts made, not recorded yet
        self._progress = asyncio.Event()

    def wake(self) -> None:
        """New deliveries were recorded, or one finished: look for due ones now."""
        self._progress.set()

    async def deliver_due(self) -> int:
        """Attempts everything due now, once each, and records the outcomes (tests and
        tools; ``run`` keeps going instead). Returns how many attempts were made."""
        made = 0
        while claimed := await self._claim(CLAIM_BATCH_MAX):
            await asyncio.gather(*(self._attempt(c) for c in claimed))
            await self._flush()
            made += len(claimed)
        return made

    async def run(self) -> None:
        while True:
            self._progress.clear()  # before claiming: a finish during the claim is not lost
            claimed: list[Claimed] = []
            try:
                await self._flush()  # before claiming: the next of each SKU is due after
                free = IN_FLIGHT_MAX - len(self._in_flight)
                if free > 0:
                    claimed = await self._claim(min(free, CLAIM_BATCH_MAX))
            except Exception:  # an outage must not end the loop: try again shortly
                log.exception("claiming or recording webhook deliveries failed; retrying")
            for each in claimed:
                task = asyncio.create_task(self._attempt(each))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            if not claimed or len(self._in_flight) >= IN_FLIGHT_MAX:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_INTERVAL_S):
                        await self._progress.wait()

    async def _claim(self, limit: int) -> list[Claimed]:
        return await claims.claim(self.pool, self.owner, self.now_ms(), limit, LEASE_MS)

    async def _attempt(self, claimed: Claimed) -> None:
        try:
            attempt = await sender.attempt(self.http, claimed, self.allow_private, int(time.time()))
        except Exception as error:  # a bug or a broken row: counted as a failed attempt
            # (retried on the schedule, dead in the end), never a claim left to loop forever
            log.exception("webhook delivery %s could not be attempted", claimed.id)
            attempt = sender.Attempt(None, f"internal error: {type(error).__name__}")
        self._finished.append(self._outcome(claimed, attempt, self.now_ms()))
        self._progress.set()  # a slot is free, and the next of its SKU may be due

    def _outcome(self, claimed: Claimed, attempt: sender.Attempt, now_ms: int) -> Outcome:
        if attempt.delivered:
            return Outcome(claimed, "delivered", attempt.status, "", now_ms)
        if attempt.status == 410:
            return Outcome(claimed, "gone", 410, claims.GONE, now_ms)
        step = after_failure(claimed.attempts + 1, claimed.since_ms, now_ms, self.rng)
        due = None if step.dead else step.next_attempt_ms
        return Outcome(claimed, "failed", attempt.status, attempt.error, now_ms, due)

    async def _flush(self) -> None:
        """Records every finished attempt in one transaction. If that fails they stay
        unrecorded: their leases run out and they are attempted again (at least once,
        the same webhook-id)."""
        outcomes, self._finished = self._finished, []
        if outcomes:
            await claims.record(self.pool, self.owner, outcomes)

    async def close(self) -> None:
        """Ends attempts in flight and hands their claims back at once."""
        tasks = list(self._in_flight)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self._flush()
            await self.pool.execute(_RELEASE, self.owner)
        await self.http.aclose()
