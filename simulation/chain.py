"""The simulated chain: stores around Oslo that sell, pick up and ship, warehouses that
ship, SKUs ranked by popularity with their prices, and the stock each location starts with.
Pure: the seed decides everything; simulation/seeding.py writes it."""

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from catalog.locations import DAYS, CatalogLocation
from simulation.config import CLOSES_AT, OPENS_AT, DayConfig

CENTER: Final = (59.91, 10.75)  # Oslo
STORE_SPREAD_KM: Final = 40.0
WAREHOUSE_SITES: Final = ((59.95, 10.90), (59.27, 10.40), (60.40, 5.40))
SHIP_GROUP: Final = "ship-network"
STORE_GROUP: Final = "stores"
PICK_CAPACITY_PER_DAY: Final = 2_000
PICKUP_CAPACITY_PER_HOUR: Final = 12  # per store: two associates staging at ~5 min each
CURRENCY: Final = "NOK"
# The range: the best sellers (the head) are everywhere; a tail SKU is at a store or a
# warehouse only by chance, so an online basket may need two places, or three by rule.
HEAD_SHARE: Final = 0.3
TAIL_AT_STORE: Final = 0.3
TAIL_AT_WAREHOUSE: Final = 0.5
STORE_EMPTY_SHARE: Final = 0.08
POPULARITY_EXPONENT: Final = 0.5  # Zipf: a long tail that online baskets reach into
KM_PER_DEGREE: Final = 111.0


@dataclass(frozen=True)
class Sku:
    id: str
    weight: float  # relative popularity (Zipf, POPULARITY_EXPONENT)
    price: Decimal


@dataclass(frozen=True)
class Chain:
    stores: list[CatalogLocation]
    warehouses: list[CatalogLocation]
    skus: list[Sku]
    stock: dict[tuple[str, str], int]  # (sku, location) -> on hand at opening
    safety: dict[tuple[str, str], int]

    @property
    def locations(self) -> list[CatalogLocation]:
        return self.stores + self.warehouses

    def where(self, location: str) -> tuple[float, float]:
        loc = next(x for x in self.locations if x.id == location)
        return loc.latitude, loc.longitude


def _hours() -> dict[str, list[list[str]]]:
    span = [OPENS_AT.strftime("%H:%M"), CLOSES_AT.strftime("%H:%M")]
    return {day: [span] for day in DAYS}


def _near(rng: random.Random, km: float) -> tuple[float, float]:
    angle, distance = rng.uniform(0, 2 * math.pi), km * math.sqrt(rng.random())
    lat = CENTER[0] + distance * math.sin(angle) / KM_PER_DEGREE
    lon = CENTER[1] + distance * math.cos(angle) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return round(lat, 4), round(lon, 4)


def _stores(config: DayConfig, rng: random.Random) -> list[CatalogLocation]:
    found = []
    for i in range(1, config.stores + 1):
        lat, lon = _near(rng, STORE_SPREAD_KM)
        found.append(
            CatalogLocation(
                id=f"ST-{i:03d}",
                name=f"Store {i}",
                kind="store",
                latitude=lat,
                longitude=lon,
                time_zone="UTC",
                opening_hours=_hours(),
                pickup=True,
                ship=False,
                ship_from_store=True,
                daily_pick_capacity=PICK_CAPACITY_PER_DAY,
                priority=50,
                groups=(SHIP_GROUP, STORE_GROUP),
                pickup_capacity_per_hour=PICKUP_CAPACITY_PER_HOUR,
            )
        )
    return found


def _warehouses(config: DayConfig) -> list[CatalogLocation]:
    return [
        CatalogLocation(
            id=f"WH-{i}",
            name=f"Warehouse {i}",
            kind="warehouse",
            latitude=lat,
            longitude=lon,
            time_zone="UTC",
            opening_hours={},
            pickup=False,
            ship=True,
            ship_from_store=False,
            daily_pick_capacity=PICK_CAPACITY_PER_DAY,
            priority=10,
            groups=(SHIP_GROUP,),
        )
        for i, (lat, lon) in enumerate(WAREHOUSE_SITES[: config.warehouses], 1)
    ]


def chain(config: DayConfig) -> Chain:
    rng = random.Random(config.seed)
    stores, warehouses = _stores(config, rng), _warehouses(config)
    skus = [
        Sku(
            f"SKU-{i:05d}",
            i**-POPULARITY_EXPONENT,
            Decimal(rng.choice((99, 149, 199, 299, 499, 899))),
        )
        for i in range(1, config.skus + 1)
    ]
    stock: dict[tuple[str, str], int] = {}
    safety: dict[tuple[str, str], int] = {}
    for rank, sku in enumerate(skus):
        tail = rank >= len(skus) * HEAD_SHARE  # the long tail: not every location ranges it
        for store in stores:
            if tail and rng.random() >= TAIL_AT_STORE:
                continue
            # Some positions start empty: back-in-stock sign-ups and restocks have a reason.
            empty = rng.random() < STORE_EMPTY_SHARE
            stock[sku.id, store.id] = 0 if empty else rng.randint(*config.shelf_per_position)
            safety[sku.id, store.id] = config.safety_at_stores
        carriers = [wh for wh in warehouses if not tail or rng.random() < TAIL_AT_WAREHOUSE]
        for wh in carriers or [rng.choice(warehouses)]:  # online ranges every SKU somewhere
            stock[sku.id, wh.id] = rng.randint(*config.warehouse_per_position)
    return Chain(stores, warehouses, skus, stock, safety)


def opening(config: DayConfig) -> dt.datetime:
    return config.at(OPENS_AT)


def closing(config: DayConfig) -> dt.datetime:
    return config.at(CLOSES_AT)
