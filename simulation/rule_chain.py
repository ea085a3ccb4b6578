"""The router retailers write by hand, to compare the engine's against in the same day: a
chain of rules, "fewest shipments, then the nearest location". The nearest location holding
the whole order ships it; when none does, each line ships from the nearest location holding
it. Each rule is sensible alone; together they split orders a router weighing the whole
plan ships in fewer boxes (three lines from three places where two places hold them all).
Pure."""

from collections.abc import Mapping
from itertools import combinations

from routing.geo import haversine_km


def shipments(
    lines: Mapping[str, int],
    atp: Mapping[tuple[str, str], int],
    sites: Mapping[str, tuple[float, float]],
    destination: tuple[float, float],
) -> int | None:
    """How many locations ship the order (None: some line is nowhere). ``atp`` is each
    (sku, location)'s available units; a line ships whole from one location."""
    distance = {loc: haversine_km(*where, *destination) for loc, where in sites.items()}
    nearest_first = sorted(sites, key=lambda loc: (distance[loc], loc))

    def holds(loc: str, sku: str) -> bool:
        return atp.get((sku, loc), 0) >= lines[sku]

    if any(all(holds(loc, sku) for sku in lines) for loc in nearest_first):
        return 1
    used = set()
    for sku in lines:
        found = next((loc for loc in nearest_first if holds(loc, sku)), None)
        if found is None:
            return None
        used.add(found)
    return len(used)


def fewest(lines: Mapping[str, int], atp: Mapping[tuple[str, str], int]) -> int | None:
    """The fewest locations that together hold every line (None: some line is nowhere):
    what any router could do at best on this availability. Exhaustive: baskets are small."""
    holders = {sku: {loc for (s, loc), units in atp.items() if s == sku and units >= qty}
               for sku, qty in lines.items()}  # fmt: skip
    if not all(holders.values()):
        return None
    places = sorted(set().union(*holders.values()))
    for size in range(1, len(lines) + 1):
        for chosen in combinations(places, size):
            if all(found.intersection(chosen) for found in holders.values()):
                return size
    raise AssertionError("one holder per line always covers the basket")
