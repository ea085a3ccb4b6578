"""The search's first bounds: every single location that fills the order (priced in closed
form) and a set-cover greedy split."""

from collections.abc import Sequence

from routing.choice import Choice, evaluate
from routing.cost import Table
from routing.limits import SINGLES_KEPT
from routing.model import Policy


def singles_priced(
    tables: Sequence[Table], qtys: Sequence[int], p: Policy, total: int
) -> list[Choice]:
    """Every location that fills the order alone, priced exactly; the cheapest few kept
    (the best is the first bound, the next ones are explained as alternatives)."""
    penalty = p.depth_penalty_per_unit
    priced = []
    for j, t in enumerate(tables):
        if t.capacity < total or any(a < q for a, q in zip(t.avail, qtys, strict=True)):
            continue
        # Capacity does not bind (capacity >= total), so each line takes its spare units
        # first, then penalised ones: the assignment in closed form, no search needed.
        below = 0
        for q, spare in zip(qtys, t.spare, strict=True):
            if q > spare:
                below += q - spare
        cost = t.fixed + t.unit * total + penalty * below
        priced.append((round(cost, 6), round(t.distance_km, 6), t.candidate.location, j, cost))
    priced.sort()
    return [Choice((j,), cost, [list(qtys)], total) for *_, j, cost in priced[:SINGLES_KEPT]]


def greedy(tables: Sequence[Table], qtys: Sequence[int], p: Policy) -> Choice | None:
    """Set-cover greedy: repeatedly the location with the most missing units per unit of
    fixed cost. A seed for the bound, and the plan kept if the search is cut short."""
    need, members = list(qtys), list[int]()
    while any(need) and len(members) < p.shipments_max:
        best, best_ratio = -1, 0.0
        for j, t in enumerate(tables):
            if j in members:
                continue
            gain = 0
            for n, a in zip(need, t.avail, strict=True):
                gain += n if n < a else a
            gain = min(gain, t.capacity)
            if gain and (ratio := gain / t.fixed if t.fixed > 0 else float("inf")) > best_ratio:
                best, best_ratio = j, ratio
        if best < 0:
            return None
        members.append(best)
        # What the new location takes off the need, within its pick capacity (the exact
        # split is the evaluation's job below).
        room = tables[best].capacity
        for i, a in enumerate(tables[best].avail):
            take = min(need[i], a, room)
            need[i] -= take
            room -= take
    c = evaluate(tables, tuple(sorted(members)), qtys, p)
    return c if c.routed == sum(qtys) else None
