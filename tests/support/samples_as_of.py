"""Samples of the journal-backed availability routes for the route table
(support/routes_table.py): what the engine said at an instant, and how it was derived.

Availability is read anywhere by any availability:read key, so every key kind may explain
S1's position; the world's writes are journaled first (the explanation reads the journal)."""

from typing import Any

import asyncpg

from api.wiring import Services
from support.route_sample import Sample, expect

SAMPLES: dict[str, Any] = {
    "explainAvailability": Sample({"sku": "A"}, query="location=S1", expect=expect()),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """The shared world (A at S1 and S2, its supply and holds) made durable: its events in
    the journal, which the explanation reads (`at` defaults to now)."""
    await services.durability.sync()
