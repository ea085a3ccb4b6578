"""The objective as per-location tables the solver and the MILP check both read.

A shipment from location l costs a fixed part (shipment fee, distance, priority rank)
plus per-unit parts: the capacity term (capacity_cost / units left today, so a busy
store's units cost more) and, for a store, the depth penalty on units taken below its
threshold. Per-unit costs are convex per line (spare units first, then penalised ones),
which is what makes the per-subset assignment an exact min-cost flow.
"""

from collections.abc import Sequence

import msgspec

from routing.flow import Segment, route_units
from routing.model import Candidate, CostTerms, LocationKind, Policy


class Table(msgspec.Struct, frozen=True):
    """One eligible candidate, priced for one order."""

    candidate: Candidate
    distance_km: float
    fixed: float  # shipment + distance + priority
    unit: float  # capacity term per unit
    avail: list[int]  # per order line: min(atp, qty)
    spare: list[int]  # per order line: units above the depth threshold (<= avail)
    capacity: int  # min(capacity left, units it could ship for this order)

    def segments(self, penalty: float) -> list[list[Segment]]:
        return [
            [(s, self.unit), (a - s, self.unit + penalty)]
            for a, s in zip(self.avail, self.spare, strict=True)
        ]


def price(
    candidate: Candidate, distance_km: float, skus: Sequence[str], qtys: Sequence[int], p: Policy
) -> Table:
    depth = 0
    if candidate.kind is LocationKind.store:
        depth = p.depth_threshold_units
        if candidate.depth_threshold is not None:
            depth = candidate.depth_threshold
    get = candidate.atp.get
    avail, spare = [], []
    for sku, qty in zip(skus, qtys, strict=True):
        on_offer = get(sku, 0)
        if on_offer <= 0:
            avail.append(0)
            spare.append(0)
            continue
        a = on_offer if on_offer < qty else qty
        avail.append(a)
        above = on_offer - depth  # units above the threshold: taking them costs no penalty
        spare.append(a if above >= a else (above if above > 0 else 0))
    fixed = p.shipment_cost + p.cost_per_km * distance_km + p.priority_cost * candidate.priority
    unit = p.capacity_cost / candidate.capacity_units if candidate.capacity_units > 0 else 0.0
    capacity = min(max(0, candidate.capacity_units), sum(avail))
    return Table(candidate, distance_km, fixed, unit, avail, spare, capacity)


def assign(
    tables: Sequence[Table], qtys: Sequence[int], p: Policy
) -> tuple[int, float, list[list[int]]]:
    """The cheapest way to route the most units over these locations:
    (units routed, variable cost, units[location][line])."""
    # Ignoring pick capacity, each line is independent; when that answer happens to fit
    # every location's capacity it is also the answer with capacity.
    relaxed = _assign_uncapacitated(tables, qtys, p)
    if all(sum(u) <= t.capacity for t, u in zip(tables, relaxed[2], strict=True)):
        return relaxed
    segments = [t.segments(p.depth_penalty_per_unit) for t in tables]
    return route_units(qtys, segments, [t.capacity for t in tables])


def assign_complete(
    tables: Sequence[Table], qtys: Sequence[int], p: Policy, budget: float
) -> tuple[float, list[list[int]]] | None:
    """assign() for the search: (variable cost, units) when every unit can be routed for at
    most ``budget``, else None. Capacity only adds constraints, so the uncapacitated cost
    is a lower bound: over budget (or short) there, the min-cost flow need not run."""
    total = sum(qtys)
    if sum(t.capacity for t in tables) < total:
        return None
    routed, variable, units = _assign_uncapacitated(tables, qtys, p, budget)
    if routed < total or variable > budget:
        return None
    if any(sum(u) > t.capacity for t, u in zip(tables, units, strict=True)):
        segments = [t.segments(p.depth_penalty_per_unit) for t in tables]
        routed, variable, units = route_units(qtys, segments, [t.capacity for t in tables])
        if routed < total or variable > budget:
            return None
    return variable, units


def _assign_uncapacitated(
    tables: Sequence[Table], qtys: Sequence[int], p: Policy, budget: float = float("inf")
) -> tuple[int, float, list[list[int]]]:
    # No capacity binds: lines are independent, and filling each from its cheapest unit
    # segments first is exact because each location's per-unit cost is convex. Returns as
    # soon as the cost passes ``budget`` (the search discards such subsets anyway).
    penalty = p.depth_penalty_per_unit
    units = [[0] * len(qtys) for _ in tables]
    routed, total = 0, 0.0
    for i, qty in enumerate(qtys):
        offers = []
        for k, t in enumerate(tables):
            a = t.avail[i]
            if a:
                spare = t.spare[i]
                if spare:
                    offers.append((t.unit, k, spare))
                if a > spare:
                    offers.append((t.unit + penalty, k, a - spare))
        if len(offers) > 1:
            offers.sort()
        left = qty
        for unit_cost, k, n in offers:
            take = left if left < n else n
            units[k][i] += take
            total += take * unit_cost
            left -= take
            if not left:
                break
        routed += qty - left
        if total > budget:
            break
    return routed, total, units


def terms(table: Table, units: Sequence[int], p: Policy) -> CostTerms:
    """One shipment's cost, term by term, for the plan's explanation."""
    penalised = sum(max(0, u - s) for u, s in zip(units, table.spare, strict=True))
    c = table.candidate
    return CostTerms(
        shipment=p.shipment_cost,
        distance=p.cost_per_km * table.distance_km,
        depth=p.depth_penalty_per_unit * penalised,
        capacity=table.unit * sum(units),
        priority=p.priority_cost * c.priority,
    )
