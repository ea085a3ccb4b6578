"""Which candidates may serve an order's method, and how far each is."""

import math
from collections import Counter
from collections.abc import Sequence

from routing.geo import EARTH_RADIUS_KM
from routing.model import Candidate, Capability, LocationKind, Method, NearMe, PickupAt, ShipTo


def _ships(c: Candidate) -> bool:
    if c.kind is LocationKind.store:
        return Capability.ship_from_store in c.capabilities
    return Capability.ship in c.capabilities or Capability.ship_from_store in c.capabilities


def _distances_km(lat: float, lon: float, candidates: Sequence[Candidate]) -> list[float]:
    # geo.haversine_km inlined, the destination's terms computed once: this runs for every
    # candidate of every plan, so it is a measurable share of a small plan's time.
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    p2 = radians(lat)
    cos2 = cos(p2)
    out = []
    for c in candidates:
        p1 = radians(c.lat)
        a = sin((p2 - p1) / 2) ** 2 + cos(p1) * cos2 * sin(radians(lon - c.lon) / 2) ** 2
        out.append(2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a))))
    return out


def _reason(method: Method, c: Candidate) -> str | None:
    """Why ``c`` may not serve ``method`` (the radius aside), or None."""
    if not c.active:
        return "inactive"
    if c.capacity_units <= 0:
        return "no_capacity"
    match method:
        case ShipTo():
            return None if _ships(c) else "cannot_ship"
        case PickupAt(location=location):
            if c.location != location:
                return "not_the_pickup_store"
            return None if Capability.pickup in c.capabilities else "no_pickup"
        case NearMe():
            return None if Capability.pickup in c.capabilities else "no_pickup"


def may_serve(method: Method, candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates eligible() keeps, bar the radius test: no distance computed."""
    return [c for c in candidates if _reason(method, c) is None]


def eligible(
    method: Method, candidates: Sequence[Candidate]
) -> tuple[list[tuple[Candidate, float]], Counter[str]]:
    """(candidate, distance in km) for each that may serve; why the others may not."""
    excluded: Counter[str] = Counter()
    serving = []
    for c in candidates:
        why = _reason(method, c)
        if why is None:
            serving.append(c)
        else:
            excluded[why] += 1
    if isinstance(method, PickupAt):
        return [(c, 0.0) for c in serving], excluded
    distances = _distances_km(method.lat, method.lon, serving)
    kept = []
    for c, distance in zip(serving, distances, strict=True):
        if isinstance(method, NearMe) and distance > method.radius_km:
            excluded["out_of_radius"] += 1
        else:
            kept.append((c, distance))
    return kept, excluded


def is_pickup(method: Method) -> bool:
    # A pickup is one counter: the customer collects in one place, so never a split.
    return isinstance(method, PickupAt | NearMe)
