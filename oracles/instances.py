"""Seeded random routing instances, shaped like a retail network: a few warehouses holding
most SKUs in depth, many stores holding a thin slice, some of them busy. Shared by the
optimality test and the benchmark."""

import random
from datetime import date, timedelta

from routing.model import (
    Arrival,
    Candidate,
    Capability,
    LocationKind,
    Order,
    OrderLine,
    Policy,
    ShipTo,
)

CENTRE = (59.91, 10.75)  # a country-sized region around Oslo
SPREAD_DEG = 3.0
TODAY = date(2026, 11, 22)
_SHIPS_FROM_STORE = frozenset({Capability.ship_from_store, Capability.pickup})
_PICKUP_ONLY = frozenset({Capability.pickup})


def _point(rng: random.Random) -> tuple[float, float]:
    return (
        CENTRE[0] + rng.uniform(-SPREAD_DEG, SPREAD_DEG) / 2,
        CENTRE[1] + rng.uniform(-SPREAD_DEG, SPREAD_DEG),
    )


def candidates(rng: random.Random, skus: list[str], count: int) -> list[Candidate]:
    out = []
    for k in range(count):
        lat, lon = _point(rng)
        warehouse = k < max(1, count // 25)
        share = 0.6 if warehouse else rng.choice((0.1, 0.25, 0.5))
        atp = {
            s: rng.randint(5, 200) if warehouse else rng.choice((1, 1, 2, 3, 4, 6, 10))
            for s in skus
            if rng.random() < share
        }
        capacity = rng.randint(50, 500) if warehouse else rng.choice((2, 5, 10, 40, 100))
        out.append(
            Candidate(
                location=f"{'WH' if warehouse else 'ST'}-{k:03d}",
                kind=LocationKind.warehouse if warehouse else LocationKind.store,
                capabilities=frozenset({Capability.ship})
                if warehouse
                else (_SHIPS_FROM_STORE if rng.random() < 0.8 else _PICKUP_ONLY),
                lat=lat,
                lon=lon,
                atp=atp,
                capacity_units=capacity,
                priority=rng.choice((0, 0, 0, 1, 2)),
                incoming=[
                    Arrival(s, rng.randint(5, 50), TODAY + timedelta(days=rng.randint(2, 20)))
                    for s in skus[:2]
                ]
                if warehouse
                else [],
            )
        )
    return out


def instance(seed: int, lines: int, count: int) -> tuple[Order, list[Candidate], Policy]:
    """One order of ``lines`` lines over ``count`` candidates, with a varied policy."""
    rng = random.Random(seed)
    skus = [f"SKU-{seed % 1000:03d}-{i:02d}" for i in range(lines)]
    order = Order([OrderLine(s, rng.choice((1, 1, 1, 2, 3))) for s in skus], ShipTo(*_point(rng)))
    policy = Policy(
        shipment_cost=rng.choice((3.0, 6.0, 10.0)),
        cost_per_km=rng.choice((0.005, 0.02, 0.05)),
        depth_threshold_units=rng.choice((0, 1, 2, 3)),
        depth_penalty_per_unit=rng.choice((0.5, 3.0, 8.0)),
        capacity_cost=rng.choice((0.0, 2.0, 5.0)),
        priority_cost=rng.choice((0.0, 0.5, 2.0)),
        shipments_max=rng.choice((2, 3, 3, 4)),
    )
    return order, candidates(rng, skus, count), policy


def random_instance(seed: int) -> tuple[Order, list[Candidate], Policy]:
    """Sizes mixed up to the issue's realistic ceiling: 20 lines, 200 candidates."""
    rng = random.Random(seed ^ 0x5EED)
    lines = rng.choice((1, 2, 3, 5, 8, 12, 20))
    count = rng.choice((10, 25, 50, 100, 200))
    return instance(seed, lines, count)
