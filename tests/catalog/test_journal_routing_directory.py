"""Routing's locations from the PostgreSQL catalog."""

import asyncpg

from catalog.importer import store_locations
from catalog.locations import CatalogLocation
from catalog.routing_directory import CatalogDirectory
from routing.model import Capability, LocationKind


def _loc(id_: str, kind: str, priority: int, **flags: bool) -> CatalogLocation:
    return CatalogLocation(
        id_, id_, kind, 59.9, 10.7, "Europe/Oslo", {},
        pickup=flags.get("pickup", False), ship=flags.get("ship", False),
        ship_from_store=flags.get("ship_from_store", False), daily_pick_capacity=120,
        priority=priority,
    )  # fmt: skip


async def test_the_catalog_maps_to_router_locations(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await store_locations(
            conn,
            [
                _loc("W1", "warehouse", 10, ship=True, pickup=True),  # pickup ignored: no counter
                _loc("D1", "dark_store", 10, ship=True),
                _loc("S1", "store", 50, pickup=True, ship_from_store=True),
                _loc("S2", "store", 70, pickup=True),
            ],
        )
    directory = CatalogDirectory(db, ttl_s=60.0)
    found = {loc.location: loc for loc in await directory.locations()}
    assert found["W1"].kind is LocationKind.warehouse
    assert found["W1"].capabilities == frozenset({Capability.ship})
    assert found["D1"].kind is LocationKind.warehouse  # routes as a warehouse
    assert found["S1"].capabilities == frozenset({Capability.pickup, Capability.ship_from_store})
    assert found["S2"].capabilities == frozenset({Capability.pickup})
    # Dense ranks of the catalog's priorities: 10 -> 0, 50 -> 1, 70 -> 2.
    assert [found[n].priority for n in ("W1", "D1", "S1", "S2")] == [0, 0, 1, 2]
    assert found["S1"].capacity_units == 120
    # Cached: a change shows after the TTL, not at once.
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM locations WHERE id = 'S2'")
    assert "S2" in {loc.location for loc in await directory.locations()}
    fresh = CatalogDirectory(db, ttl_s=0.0)
    assert "S2" not in {loc.location for loc in await fresh.locations()}
