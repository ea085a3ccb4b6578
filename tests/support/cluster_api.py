"""The API in-process (support/harness.py) on the private 3-master cluster instead of the
machine's Redis: the same app, settings, keys and register, a cluster URL. Test modules
import the fixtures by name (tests/conftest.py registers only the shared ones).

``cluster_shop`` adds the order tests' world (support/order_world.py: stores S1 with
pickup and opening hours, S2, S3, warehouse W1; A at S1 and W1, B at W1), the returns
policy, the group ``oslo`` (S1, S2), a verifying webhook receiver on loopback, and waits
until the changes sequencer leads and the alerts' consumer has taken its place."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from atp.clock import ManualClock
from support.harness import Api, catalog, serving, settings_for
from support.order_world import HOURS, LOCATIONS
from support.samples_returns import seed_policy
from support.webhook_receiver import Receiver, receiving

GROUP, GROUP_MEMBERS = "oslo", ("S1", "S2")
SEED = (("A", "S1", 10), ("A", "W1", 100), ("B", "W1", 5))
STARTED_POLLS, POLL_S = 300, 0.02


@dataclass
class Shop:
    api: Api
    receiver: Receiver


@pytest.fixture
async def cluster_api(
    cluster_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    """Every master emptied, empty tables, the app's lifespan running on the cluster."""
    async with serving(settings_for(cluster_url, pg_dsn), clock) as harness:
        yield harness


async def _shop_catalog(pool: asyncpg.Pool) -> None:
    await catalog(pool, LOCATIONS)
    await pool.execute(
        "UPDATE locations SET opening_hours = $1::jsonb, time_zone = 'Europe/Oslo'"
        " WHERE id IN ('S1', 'S2')",
        HOURS,
    )
    await seed_policy(pool)
    await pool.execute("INSERT INTO location_groups (name) VALUES ($1)", GROUP)
    for location in GROUP_MEMBERS:
        await pool.execute(
            "INSERT INTO location_group_members (group_name, location_id) VALUES ($1, $2)",
            GROUP, location,
        )  # fmt: skip


async def _background_started(api: Api) -> None:
    """The sequencer leads (the feed starts at the journal's end) and the alerts' consumer
    has its cursor (a new one starts at the feed's head): later writes reach both."""
    feed = api.services.feed
    assert feed is not None
    for _ in range(STARTED_POLLS):
        consumer = await api.services.pool.fetchval(
            "SELECT count(*) FROM change_consumers WHERE name = 'alerts'"
        )
        if feed.sequencer.leading and consumer:
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError("the sequencer or the alerts' consumer did not start")


@pytest.fixture
async def cluster_shop(
    cluster_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Shop]:
    await _shop_catalog(db)
    settings = settings_for(cluster_url, pg_dsn, webhooks_allow_private=True)
    async with receiving() as receiver, serving(settings, clock) as api:
        await api.engine.availability.define_group(GROUP, list(GROUP_MEMBERS))
        for sku, location, qty in SEED:
            await api.engine.stock.adjust(sku, location, qty, "receipt")
        await _background_started(api)
        yield Shop(api, receiver)
