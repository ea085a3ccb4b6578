"""A world for the alerts' worker on the real Redis and PostgreSQL: a catalog with named
locations, a webhook endpoint subscribed to alert.triggered (its recorded deliveries are
what the messaging tool would get), the engine with a manual clock, and the worker driven
pass by pass (no background task, no changes sequencer: tests append the feed's rows)."""

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from alerts import consume
from alerts.settings import AlertSettings, wall_clock
from alerts.subscriptions import SignUp, Subscription, subscribe
from alerts.worker import AlertsWorker
from atp.clock import ManualClock
from atp.model import Channel
from engine.local import Engine
from engine.protocol import LedgerEngine

START = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
LOCATIONS = [("OSLO-1", "Oslo Sentrum"), ("OSLO-2", "Storo"), ("BGO-1", "Bergen Torget")]
GROUP = "oslo"


@dataclass
class World:
    pool: asyncpg.Pool
    engine: LedgerEngine
    clock: ManualClock
    worker: AlertsWorker
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def sign_up(self, contact: str, sku: str = "SKU-1", group: str = "") -> Subscription:
        """At OSLO-1, or over ``group``; online."""
        email, phone = (None, contact) if contact.startswith("+") else (contact, None)
        location = None if group else "OSLO-1"
        s = SignUp(email, phone, True, START, "tests", sku, location, group or None, Channel.online)
        async with self.pool.acquire() as conn:
            found, _ = await subscribe(conn, s, self.worker.now(), "tests")
        self.clock.advance(1)
        return found

    async def back_in_stock(
        self, sku: str = "SKU-1", location: str = "OSLO-1", group: str = "", channel: str = "online"
    ) -> int:
        """Appends a back_in_stock change, as the changes sequencer would."""
        seq = next(self.seq)
        where = {"group": group} if group else {"location": location}
        data = {"sku": sku, **where, "channel": channel, "atp_before": 0, "atp_after": 1}
        data |= {"event_id": f"1-{seq}-0", "cause": "adjusted", "at": "2026-12-03T22:00:00Z"}
        await self.pool.execute(
            "INSERT INTO changes (seq, type, sku, location, location_group, channel, event_id,"
            " data, ts_ms) VALUES ($1, 'back_in_stock', $2, $3, $4, $5, $6, $7, $8)",
            seq, sku, "" if group else location, group, channel, data["event_id"],
            json.dumps(data), self.clock.now_ms(),
        )  # fmt: skip
        return seq

    async def other_change(self, sku: str = "SKU-1", location: str = "OSLO-1") -> None:
        seq = next(self.seq)
        await self.pool.execute(
            "INSERT INTO changes (seq, type, sku, location, data, ts_ms)"
            " VALUES ($1, 'adjusted', $2, $3, '{}', 0)",
            seq, sku, location,
        )  # fmt: skip

    async def alerts(self) -> list[dict[str, Any]]:
        """The alert.triggered events recorded for the messaging tool, in order."""
        rows = await self.pool.fetch(
            "SELECT payload FROM webhook_deliveries WHERE type = 'alert.triggered' ORDER BY id"
        )
        return [json.loads(r["payload"])["data"] for r in rows]

    async def states(self) -> dict[str, str]:
        rows = await self.pool.fetch("SELECT id, state FROM alert_subscriptions")
        return {r["id"]: r["state"] for r in rows}

    async def run(self) -> tuple[int, int, int]:
        """One pass of the worker: (triggers recorded, sends, resends)."""
        return await self.worker.run_once()

    def advance_s(self, seconds: float) -> None:
        self.clock.advance(int(seconds * 1000))


async def catalog(pool: asyncpg.Pool) -> None:
    for location, name in LOCATIONS:
        await pool.execute(
            "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone)"
            " VALUES ($1, $2, 'store', 59.9, 10.7, 'Europe/Oslo')",
            location, name,
        )  # fmt: skip
    await pool.execute("INSERT INTO location_groups (name) VALUES ($1)", GROUP)
    for location in ("OSLO-1", "OSLO-2"):
        await pool.execute(
            "INSERT INTO location_group_members (group_name, location_id) VALUES ($1, $2)",
            GROUP, location,
        )  # fmt: skip
    await pool.execute(
        "INSERT INTO webhook_endpoints (id, url, secret, types, start_seq)"
        " VALUES ('messaging', 'https://messaging.example/hook', 'whsec_dGVzdA==',"
        " '{alert.triggered}', 0)"
    )


def make_world(
    pool: asyncpg.Pool, engine: LedgerEngine, clock: ManualClock, **settings: Any
) -> World:
    clock.value_ms = int(START.timestamp() * 1000)
    chosen = AlertSettings(**{"subscribers_per_unit": 2, "resend_delay_s": 3600, **settings})
    worker = AlertsWorker(pool, engine.availability, chosen.validate(), wall_clock(clock))
    return World(pool, engine, clock, worker)


@pytest.fixture
async def world(db: asyncpg.Pool, engine: Engine, clock: ManualClock) -> AsyncIterator[World]:
    await catalog(db)
    await engine.availability.define_group(GROUP, ["OSLO-1", "OSLO-2"])
    made = make_world(db, engine, clock)
    async with db.acquire() as conn:
        await consume.start(conn)  # the feed is empty: the consumer starts at 0
    yield made
