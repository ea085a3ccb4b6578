"""The world the order tests act in: stores S1 (pickup, open in Oslo hours), S2 (no
pickup), S3 (pickup, never open) and warehouse W1, SKU A at S1 and W1, B at W1 only; and
order bodies."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from atp.clock import ManualClock
from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind
from support.harness import Api, catalog, serving, settings_for

STORE = frozenset({Capability.pickup, Capability.ship_from_store})
LOCATIONS = [
    RoutingLocation("S1", LocationKind.store, STORE, 59.91, 10.75, 100),
    RoutingLocation(
        "S2", LocationKind.store, frozenset({Capability.ship_from_store}), 59.95, 10.8, 100
    ),
    RoutingLocation("S3", LocationKind.store, STORE, 59.93, 10.7, 100),  # pickup, never open
    RoutingLocation("W1", LocationKind.warehouse, frozenset({Capability.ship}), 60.8, 11.1, 10_000),
]
HOURS = (
    '{"mon": [["09:00", "21:00"]], "tue": [["09:00", "21:00"]], "wed": [["09:00", "21:00"]],'
    ' "thu": [["09:00", "21:00"]], "fri": [["09:00", "21:00"]], "sat": [["10:00", "18:00"]]}'
)
HOME = {"lat": 59.91, "lon": 10.75, "postcode": "0150"}


@pytest.fixture
async def shop(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    await catalog(db, LOCATIONS)
    await db.execute(
        "UPDATE locations SET opening_hours = $1::jsonb, time_zone = 'Europe/Oslo'"
        " WHERE id IN ('S1', 'S2')",
        HOURS,
    )
    async with serving(settings_for(redis_url, pg_dsn), clock) as api:
        for sku, location, qty in [("A", "S1", 10), ("A", "W1", 100), ("B", "W1", 5)]:
            await api.engine.stock.adjust(sku, location, qty, "receipt")
        yield api


def pickup(order_id: str, qty: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "method": "pickup",
        "location": "S1",
        "customer": {"email": " Kari@Example.no ", "phone": "+47 912 34 567", "name": "Kari"},
        "lines": [{"sku": "A", "qty": qty, "unit_price": "199.00"}],
        **extra,
    }


def shipped(order_id: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {
        "id": order_id,
        "method": "ship",
        "ship_to": HOME,
        "customer": {"id": "c-7"},
        "lines": [{"sku": s, "qty": q} for s, q in lines],
    }
