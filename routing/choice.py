"""A candidate plan (a set of locations with the units each ships) and its evaluation:
what the search, its seeds and the explanations share."""

from collections.abc import Sequence

import msgspec

from routing.cost import Table, assign, assign_complete
from routing.model import Policy


class Choice(msgspec.Struct, frozen=True):
    members: tuple[int, ...]  # indexes into the sorted tables
    cost: float  # fixed + variable
    units: list[list[int]]  # per member, per line
    routed: int


class Outcome(msgspec.Struct, frozen=True):
    best: Choice | None
    singles: list[Choice]  # every location that fills the order alone, cheapest first
    seed: Choice | None
    proven_optimal: bool
    nodes: int


def rank_key(c: Choice, tables: Sequence[Table]) -> tuple[float, int, float, tuple[str, ...]]:
    # Explicit tie-breakers: cost, then fewer shipments, then less distance, then ids.
    distance = sum(tables[m].distance_km for m in c.members)
    ids = tuple(sorted(tables[m].candidate.location for m in c.members))
    return (round(c.cost, 6), len(c.members), round(distance, 6), ids)


def evaluate(
    tables: Sequence[Table], members: tuple[int, ...], qtys: Sequence[int], p: Policy
) -> Choice:
    assert len(set(members)) == len(members), members
    chosen = [tables[m] for m in members]
    routed, variable, units = assign(chosen, qtys, p)
    # A member that ships nothing is not a shipment: drop it so its fee is not charged.
    kept = [k for k, u in enumerate(units) if any(u)]
    if len(kept) < len(members):
        members = tuple(members[k] for k in kept)
        units = [units[k] for k in kept]
    fixed = sum(tables[m].fixed for m in members)
    return Choice(members, fixed + variable, units, routed)


def evaluate_within(
    tables: Sequence[Table], members: tuple[int, ...], qtys: Sequence[int], p: Policy, ub: float
) -> Choice | None:
    """evaluate() when only a complete plan cheaper than ``ub`` matters (the search): None
    otherwise, usually without running the min-cost flow."""
    fixed = 0.0
    for m in members:
        fixed += tables[m].fixed
    # A member the assignment leaves empty lowers the fee, but the subset without it is a
    # node of its own (it still brings missing units there), so this bound loses nothing.
    found = assign_complete([tables[m] for m in members], qtys, p, ub - fixed)
    if found is None:
        return None
    variable, units = found
    kept = [k for k, u in enumerate(units) if any(u)]
    if len(kept) < len(members):
        members = tuple(members[k] for k in kept)
        units = [units[k] for k in kept]
        fixed = sum(tables[m].fixed for m in members)
    return Choice(members, fixed + variable, units, sum(qtys))
