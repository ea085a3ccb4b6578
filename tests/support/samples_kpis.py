"""Samples of the KPI routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in (at store S1).

The KPIs are read with orders:read: the storefront key has none; register_b is bound to S2
and may not read S1's figures (register_a may)."""

from typing import Any

import asyncpg

from api.wiring import Services
from support.route_sample import DENIED, Sample, expect

SAMPLES: dict[str, Any] = {
    "getKpis": Sample({}, query="location=S1", expect=expect(storefront=DENIED, register_b=DENIED)),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """What these samples need beyond the shared world: nothing (the figures may be empty)."""
