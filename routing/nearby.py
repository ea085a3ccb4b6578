"""Stores near a point that can hand over a quantity now: the pure half of
GET /v1/availability/{sku}/nearby."""

from collections.abc import Sequence

import msgspec

from routing.geo import haversine_km
from routing.model import Candidate, Capability


class NearbyStore(msgspec.Struct, frozen=True):
    location: str
    distance_km: float
    atp: int


def stores_nearby(
    sku: str, qty: int, lat: float, lon: float, radius_km: float, candidates: Sequence[Candidate]
) -> list[NearbyStore]:
    """Active pickup stores within the radius holding ``qty`` of ``sku``, nearest first
    (ties by location id, so the order is stable)."""
    found = []
    for c in candidates:
        if not c.active or Capability.pickup not in c.capabilities:
            continue
        atp = c.atp.get(sku, 0)
        if atp < qty:
            continue
        distance = haversine_km(c.lat, c.lon, lat, lon)
        if distance <= radius_km:
            found.append(NearbyStore(c.location, round(distance, 3), atp))
    found.sort(key=lambda s: (s.distance_km, s.location))
    return found
