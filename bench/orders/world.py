"""The benchmark's retailer: 50 locations (46 stores that pick up and ship from store, 4
warehouses) across southern Norway, SKUs stocked everywhere for the whole run, and the
bodies of its orders and of the baseline's allocations.

Every store is open all week 00:00-23:59 in UTC, so a pickup promise always exists
whenever the benchmark runs. Pick capacity is the catalog's maximum: the run never
exhausts a location's day.
"""

import asyncio
import random
import secrets

import asyncpg
import msgspec

from atp.limits import QTY_MAX
from bench.common.cli import admin_key, fresh_database
from catalog.importer import store_locations
from catalog.locations import DAYS, PICK_CAPACITY_MAX, CatalogLocation
from engine.local import Engine

HOST = "127.0.0.1"
STORES, WAREHOUSES = 46, 4
SKUS = [f"O-{i:03d}" for i in range(200)]
SEED_ON_HAND = QTY_MAX // 2  # 3-line orders of 1-2 units never run a position short
SEED_CALLS_IN_FLIGHT = 500  # stock writes sent at once (pipelined by the engine's transport)
LINES_PER_ORDER = 3
HOLD_TTL_S = 1800  # the order service's default hold (ATP_ORDER_HOLD_TTL_S): same for both
# Southern Norway: where stores stand and where ship orders go.
LAT, LON = (58.0, 61.0), (5.0, 11.5)
WAREHOUSE_SITES = [(59.95, 10.9), (60.4, 5.4), (58.97, 5.7), (59.27, 10.4)]
HOURS = {day: [["00:00", "23:59"]] for day in DAYS}


def locations() -> list[CatalogLocation]:
    rng = random.Random(14)
    stores = [
        CatalogLocation(
            id=f"ST-{i:03d}",
            name=f"Store {i}",
            kind="store",
            latitude=round(rng.uniform(*LAT), 4),
            longitude=round(rng.uniform(*LON), 4),
            time_zone="UTC",
            opening_hours=HOURS,
            pickup=True,
            ship=False,
            ship_from_store=True,
            daily_pick_capacity=PICK_CAPACITY_MAX,
            priority=50,
        )
        for i in range(1, STORES + 1)
    ]
    warehouses = [
        CatalogLocation(
            id=f"WH-{i}",
            name=f"Warehouse {i}",
            kind="warehouse",
            latitude=lat,
            longitude=lon,
            time_zone="Europe/Oslo",
            opening_hours={},
            pickup=False,
            ship=True,
            ship_from_store=False,
            daily_pick_capacity=PICK_CAPACITY_MAX,
            priority=10,
        )
        for i, (lat, lon) in enumerate(WAREHOUSE_SITES, 1)
    ]
    return stores + warehouses


STORE_IDS = [loc.id for loc in locations() if loc.pickup]


async def seed(redis_url: str, dsn: str) -> str:
    """A fresh database with the catalog, the stock in Redis, and an admin key."""
    await fresh_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await store_locations(conn, locations())
        await conn.executemany("INSERT INTO skus (id) VALUES ($1)", [(s,) for s in SKUS])
    finally:
        await conn.close()
    engine = Engine.connect(redis_url)
    try:
        await engine.redis.command("FLUSHDB")
        cells = [(sku, loc.id) for sku in SKUS for loc in locations()]
        for at in range(0, len(cells), SEED_CALLS_IN_FLIGHT):
            await asyncio.gather(
                *(
                    engine.stock.set_on_hand(sku, location, SEED_ON_HAND, reason="bench")
                    for sku, location in cells[at : at + SEED_CALLS_IN_FLIGHT]
                )
            )
    finally:
        await engine.close()
    return await admin_key(dsn, "bench-orders")


class Cart(msgspec.Struct, frozen=True):
    """One order's contents and destination, the same for an order and its baseline twin."""

    lines: list[dict[str, object]]
    pickup_at: str | None  # a store, or None: shipped to (lat, lon)
    lat: float
    lon: float


def carts(count: int, pickup_share: float, seed_: int) -> list[Cart]:
    rng = random.Random(seed_)
    found = []
    for _ in range(count):
        skus = rng.sample(SKUS, LINES_PER_ORDER)
        lines: list[dict[str, object]] = [{"sku": s, "qty": rng.randint(1, 2)} for s in skus]
        pickup = rng.choice(STORE_IDS) if rng.random() < pickup_share else None
        found.append(Cart(lines, pickup, round(rng.uniform(*LAT), 4), round(rng.uniform(*LON), 4)))
    return found


def run_nonce() -> str:
    """Ids differ between runs and steps: a reused id would answer the existing order."""
    return secrets.token_hex(3)


def order_body(order_id: str, cart: Cart, n: int) -> bytes:
    body: dict[str, object] = {
        "id": order_id,
        "channel": "online",
        "customer": {"id": f"cust-{n % 5000}", "email": f"c{n % 5000}@example.com"},
        "lines": [{**ln, "unit_price": 199.0} for ln in cart.lines],
    }
    if cart.pickup_at is None:
        body |= {"method": "ship", "ship_to": {"lat": cart.lat, "lon": cart.lon}}
    else:
        body |= {"method": "pickup", "location": cart.pickup_at}
    return msgspec.json.encode(body)


def allocate_body(reservation_id: str, cart: Cart) -> bytes:
    method: dict[str, object] = (
        {"type": "ship", "lat": cart.lat, "lon": cart.lon}
        if cart.pickup_at is None
        else {"type": "pickup", "location": cart.pickup_at}
    )
    return msgspec.json.encode(
        {
            "id": reservation_id,
            "channel": "online",
            "lines": cart.lines,
            "method": method,
            "ttl_seconds": HOLD_TTL_S,
        }
    )
