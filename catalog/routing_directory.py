"""The router's locations (routing.location_directory.LocationDirectory) from the
PostgreSQL catalog.

The catalog changes rarely and the router asks on every order, so the rows are cached
for DIRECTORY_TTL_S; concurrent refreshes share one query.

Mapping: a store picks up when `pickup`, ships when `ship_from_store`; a warehouse or dark
store ships when `ship` (a dark store routes as a warehouse: no shelf to keep sellable).
`daily_pick_capacity` is the day's capacity (routing.pickload subtracts what was allocated
today). The catalog's `priority` is any integer, lower preferred; the router wants a rank
(0 best, each step costs Policy.priority_cost), so it gets the dense rank of the distinct
priorities: with warehouses at 10 and stores at 50..69, warehouses rank 0, stores 1..20.
"""

import asyncio
import time
from collections.abc import Sequence

import asyncpg

from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind

DIRECTORY_TTL_S = 30.0

_QUERY = """
SELECT id, kind, latitude, longitude, pickup, ship, ship_from_store, daily_pick_capacity,
       priority
FROM locations ORDER BY id
"""


def location_of(row: asyncpg.Record, rank: int) -> RoutingLocation:
    capabilities = set()
    if row["kind"] == "store":
        kind = LocationKind.store
        if row["pickup"]:
            capabilities.add(Capability.pickup)
        if row["ship_from_store"]:
            capabilities.add(Capability.ship_from_store)
    else:
        kind = LocationKind.warehouse
        if row["ship"]:
            capabilities.add(Capability.ship)
    return RoutingLocation(
        row["id"],
        kind,
        frozenset(capabilities),
        row["latitude"],
        row["longitude"],
        row["daily_pick_capacity"],
        rank,
    )


class CatalogDirectory:
    def __init__(self, pool: asyncpg.Pool, ttl_s: float = DIRECTORY_TTL_S) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._cached: tuple[float, tuple[RoutingLocation, ...]] | None = None
        self._refresh: asyncio.Task[tuple[RoutingLocation, ...]] | None = None

    async def _load(self) -> tuple[RoutingLocation, ...]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_QUERY)
        ranks = {p: r for r, p in enumerate(sorted({row["priority"] for row in rows}))}
        locations = tuple(location_of(row, ranks[row["priority"]]) for row in rows)
        self._cached = (time.monotonic(), locations)
        return locations

    async def locations(self) -> Sequence[RoutingLocation]:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.ensure_future(self._load())
        return await asyncio.shield(self._refresh)
