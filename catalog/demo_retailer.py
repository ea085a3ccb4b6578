"""The demo retailer: a small Oslo-area chain with two warehouses, stores, a skewed
assortment and a few fast movers kept behind safety stock. Deterministic for a seed.

``seed_demo(dsn, redis_url)`` loads the catalog into PostgreSQL and the stock into the
ledger (durably, through the group commit); running it again sets the demo's numbers again.
``ensure_demo`` loads it only into a database that does not have it yet (or when asked to
reset): a restarted demo keeps what was done with it.
"""

import random

import msgspec

from catalog.importer import ImportReport, apply_quantities, store_locations, sync_group
from catalog.locations import CatalogLocation, Hours, parse_hours
from durability.db import create_database, create_pool
from durability.migrate import migrate
from engine.durable import DurableEngine

# Real places around Oslo (lat, lon), rounded; stores beyond these reuse them, nudged.
_PLACES = [
    ("Oslo S", 59.9111, 10.7528), ("Majorstuen", 59.9296, 10.7146),
    ("Grünerløkka", 59.9226, 10.7590), ("Storo", 59.9464, 10.7772),
    ("Bjørvika", 59.9075, 10.7605), ("Skøyen", 59.9227, 10.6798),
    ("Nydalen", 59.9494, 10.7650), ("Lambertseter", 59.8747, 10.8110),
    ("Furuset", 59.9403, 10.8932), ("Manglerud", 59.8983, 10.8120),
    ("Sandvika", 59.8892, 10.5246), ("Lysaker", 59.9125, 10.6364),
    ("Asker", 59.8333, 10.4353), ("Lillestrøm", 59.9560, 11.0492),
    ("Strømmen", 59.9468, 10.9996), ("Ski", 59.7192, 10.8356),
    ("Kolbotn", 59.8110, 10.8002), ("Drammen", 59.7441, 10.2045),
    ("Moss", 59.4340, 10.6577), ("Jessheim", 60.1416, 11.1750),
]  # fmt: skip
_WAREHOUSES = [("WH-BERGER", "Berger warehouse", 59.6010, 10.7260),
               ("WH-LANGHUS", "Langhus warehouse", 59.7620, 10.8330)]  # fmt: skip
_CATEGORIES = ("apparel", "footwear", "home", "kitchen", "electronics", "toys", "sport")
FAST_MOVERS = 25
STORES_MIN, STORES_MAX = 10, 50
SKUS_MIN, SKUS_MAX = 5_000, 50_000


class Catalog(msgspec.Struct):
    locations: list[CatalogLocation]
    skus: list[tuple[str, str, str]]  # id, name, category
    stock: list[tuple[str, str, int]]  # sku, location, on hand
    safety: list[tuple[str, str, int]]


def _hours(rng: random.Random) -> Hours:
    mall = rng.random() < 0.4
    spec = (
        "mon-fri 10:00-21:00; sat 10:00-19:00" if mall else "mon-fri 09:00-20:00; sat 10:00-18:00"
    )
    if not mall:
        spec += "; sat 10:00-18:00"
    return parse_hours(spec + ("; sun 12:00-18:00" if mall and rng.random() < 0.5 else ""))


def build_catalog(stores: int = 20, skus: int = 5_000, seed: int = 42) -> Catalog:
    if not STORES_MIN <= stores <= STORES_MAX:
        raise ValueError(f"stores: must be {STORES_MIN} to {STORES_MAX}")
    if not SKUS_MIN <= skus <= SKUS_MAX:
        raise ValueError(f"skus: must be {SKUS_MIN} to {SKUS_MAX}")
    rng = random.Random(seed)
    always = parse_hours("mon-sun 06:00-22:00")
    locations = [
        CatalogLocation(wid, name, "warehouse", lat, lon, "Europe/Oslo", always,
                        pickup=False, ship=True, ship_from_store=False,
                        daily_pick_capacity=20_000, priority=10,
                        groups=("warehouses", "ship-network"))
        for wid, name, lat, lon in _WAREHOUSES
    ]  # fmt: skip
    for i in range(stores):
        place, lat, lon = _PLACES[i % len(_PLACES)]
        if i >= len(_PLACES):
            place, lat, lon = (
                f"{place} {i // len(_PLACES) + 1}",
                lat + rng.uniform(-0.02, 0.02),
                lon + rng.uniform(-0.03, 0.03),
            )
        ships = i % 3 == 0
        groups = ("oslo-stores", "ship-network") if ships else ("oslo-stores",)
        locations.append(
            CatalogLocation(f"ST-{i + 1:03d}", f"Store {place}", "store", round(lat, 5),
                            round(lon, 5), "Europe/Oslo", _hours(rng), pickup=True, ship=False,
                            ship_from_store=ships,
                            daily_pick_capacity=rng.choice((150, 200, 300, 400)),
                            priority=50 + i, groups=groups)
        )  # fmt: skip
    catalog = Catalog(locations, [], [], [])
    for rank in range(1, skus + 1):
        sku = f"SKU-{rank:06d}"
        category = _CATEGORIES[rng.randrange(len(_CATEGORIES))]
        catalog.skus.append((sku, f"{category.title()} item {rank}", category))
        _stock_one(catalog, rng, sku, rank)
    return catalog


def _stock_one(catalog: Catalog, rng: random.Random, sku: str, rank: int) -> None:
    """Popularity falls with rank (Zipf-like): the head is everywhere in depth, the tail
    sits in a warehouse or two; a few units are zero (sold out) as in any real chain."""
    popularity = 1.0 / rank**0.8
    fast = rank <= FAST_MOVERS
    for loc in catalog.locations:
        if loc.kind == "warehouse":
            if rng.random() < 0.9:
                depth = int(rng.lognormvariate(3.0, 1.0) * (1 + 2000 * popularity))
                catalog.stock.append((sku, loc.id, depth))
                if fast:
                    catalog.safety.append((sku, loc.id, rng.randint(20, 50)))
        elif rng.random() < min(1.0, 0.05 + 30 * popularity):
            depth = max(0, int(rng.lognormvariate(1.5, 0.8) * (1 + 20 * popularity)) - 1)
            catalog.stock.append((sku, loc.id, depth))
            if fast:
                catalog.safety.append((sku, loc.id, rng.randint(2, 5)))


# Present once the chain is loaded: the first store and the top seller.
_LOADED = """
SELECT EXISTS (SELECT 1 FROM locations WHERE id = 'ST-001')
   AND EXISTS (SELECT 1 FROM skus WHERE id = 'SKU-000001')
"""


class SeedReport(msgspec.Struct):
    locations: int
    skus: int
    stock: ImportReport
    safety: ImportReport


async def seed_demo(
    dsn: str, redis_url: str, stores: int = 20, skus: int = 5_000, seed: int = 42
) -> SeedReport:
    """Creates and migrates the database if needed, then loads the demo chain."""
    catalog = build_catalog(stores, skus, seed)
    await create_database(dsn)
    pool = await create_pool(dsn)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            engine = await DurableEngine.open(redis_url, pool)
            try:
                for group in sorted(await store_locations(conn, catalog.locations)):
                    await sync_group(conn, engine, group)
                await conn.executemany(
                    "INSERT INTO skus (id, name, category) VALUES ($1, $2, $3)"
                    " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
                    " category = EXCLUDED.category",
                    catalog.skus,
                )
                stock, safety = ImportReport("stock"), ImportReport("safety")
                for kind, rows, report in (
                    ("stock", catalog.stock, stock),
                    ("safety", catalog.safety, safety),
                ):
                    for start in range(0, len(rows), 5_000):
                        await apply_quantities(
                            conn, engine, kind, rows[start : start + 5_000], report
                        )
            finally:
                await engine.close()
    finally:
        await pool.close()
    return SeedReport(len(catalog.locations), len(catalog.skus), stock, safety)


async def ensure_demo(dsn: str, redis_url: str, reset: bool = False) -> SeedReport | None:
    """Loads the demo chain unless the database has it already; None when it was kept."""
    await create_database(dsn)
    pool = await create_pool(dsn, 1)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            loaded = bool(await conn.fetchval(_LOADED))
    finally:
        await pool.close()
    if loaded and not reset:
        return None
    return await seed_demo(dsn, redis_url)
