"""Which candidates may serve an order's method, and how far each is."""

from collections import Counter
from collections.abc import Sequence

from routing.geo import haversine_km
from routing.model import Candidate, Capability, LocationKind, Method, NearMe, PickupAt, ShipTo


def _ships(c: Candidate) -> bool:
    if c.kind is LocationKind.store:
        return Capability.ship_from_store in c.capabilities
    return Capability.ship in c.capabilities or Capability.ship_from_store in c.capabilities


def eligible(
    method: Method, candidates: Sequence[Candidate]
) -> tuple[list[tuple[Candidate, float]], Counter[str]]:
    """(candidate, distance in km) for each that may serve; why the others may not."""
    kept: list[tuple[Candidate, float]] = []
    excluded: Counter[str] = Counter()
    for c in candidates:
        if not c.active:
            excluded["inactive"] += 1
            continue
        if c.capacity_units <= 0:
            excluded["no_capacity"] += 1
            continue
        match method:
            case ShipTo(lat=lat, lon=lon):
                if not _ships(c):
                    excluded["cannot_ship"] += 1
                    continue
                kept.append((c, haversine_km(c.lat, c.lon, lat, lon)))
            case PickupAt(location=location):
                if c.location != location:
                    excluded["not_the_pickup_store"] += 1
                elif Capability.pickup not in c.capabilities:
                    excluded["no_pickup"] += 1
                else:
                    kept.append((c, 0.0))
            case NearMe(lat=lat, lon=lon, radius_km=radius_km):
                if Capability.pickup not in c.capabilities:
                    excluded["no_pickup"] += 1
                    continue
                distance = haversine_km(c.lat, c.lon, lat, lon)
                if distance > radius_km:
                    excluded["out_of_radius"] += 1
                    continue
                kept.append((c, distance))
    return kept, excluded


def is_pickup(method: Method) -> bool:
    # A pickup is one counter: the customer collects in one place, so never a split.
    return isinstance(method, PickupAt | NearMe)
