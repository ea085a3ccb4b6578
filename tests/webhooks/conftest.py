"""Fixtures for the webhook tests: a verifying receiver and the webhooks runner (fan-out and
deliverer) on a manual clock that starts at the wall clock's now. Helpers that write the
feed's rows and endpoints are in support/webhook_feed.py."""

import random
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from atp.clock import ManualClock
from support.webhook_receiver import Receiver, receiving
from webhooks.runner import Webhooks


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as running:
        yield running


@pytest.fixture
def wall_clock() -> ManualClock:
    """Scheduling time under the test's control, starting now (the age limit counts from
    the rows' own stamps)."""
    return ManualClock(int(time.time() * 1000))


@pytest.fixture
async def webhooks(db: asyncpg.Pool, wall_clock: ManualClock) -> AsyncIterator[Webhooks]:
    runner = Webhooks(db, allow_private=True, now_ms=wall_clock.now_ms, rng=random.Random(7))
    yield runner
    await runner.deliverer.close()
