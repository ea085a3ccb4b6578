"""Why a plan is what it is: the best rejected alternatives, and back-order dates."""

from collections.abc import Sequence
from datetime import date

import msgspec

from routing.choice import Choice, Outcome
from routing.cost import Table, terms
from routing.eligibility import eligible
from routing.limits import ALTERNATIVES_MAX
from routing.model import Alternative, Candidate, CostTerms, Method, Plan, Policy

_TERMS = ("shipment", "distance", "depth", "capacity", "priority")


def _terms(tables: Sequence[Table], c: Choice, p: Policy) -> CostTerms:
    parts = [terms(tables[m], u, p) for m, u in zip(c.members, c.units, strict=True)]
    return CostTerms(*(sum(getattr(t, name) for t in parts) for name in _TERMS))


def _why_dearer(chosen: CostTerms, other: CostTerms, delta: float) -> str:
    worst = max(_TERMS, key=lambda n: (getattr(other, n) - getattr(chosen, n), n))
    extra = getattr(other, worst) - getattr(chosen, worst)
    return f"costs {delta:.2f} more (mostly {worst}: +{extra:.2f})"


def alternatives(
    tables: Sequence[Table],
    best: Choice | None,
    outcome: Outcome,
    skus: Sequence[str],
    qtys: Sequence[int],
    p: Policy,
) -> list[Alternative]:
    """The cheapest plans not chosen: other single shipments, the greedy split, then the
    cheapest locations that cannot fill the order alone (and what they lack)."""
    if best is None:
        return []
    chosen = _terms(tables, best, p)
    rejected = [c for c in (*outcome.singles, outcome.seed) if c is not None]
    seen = {best.members}
    found: list[Alternative] = []
    for c in sorted(rejected, key=lambda c: (c.cost, c.members)):
        if c.members in seen or len(found) >= ALTERNATIVES_MAX:
            continue
        seen.add(c.members)
        names = sorted(tables[m].candidate.location for m in c.members)
        why = _why_dearer(chosen, _terms(tables, c, p), c.cost - best.cost)
        found.append(Alternative(names, round(c.cost, 6), why))
    for j, t in enumerate(tables):  # sorted by fixed cost: nearest and cheapest first
        if len(found) >= ALTERNATIVES_MAX:
            break
        if (j,) in seen:
            continue
        short = [(s, q - a) for s, q, a in zip(skus, qtys, t.avail, strict=True) if a < q]
        if short:
            sku, n = short[0]
            more = f" and {len(short) - 1} more lines" if len(short) > 1 else ""
            reason = f"cannot fill alone: short {sku} by {n}{more}"
        elif t.capacity < sum(qtys):
            reason = f"cannot fill alone: {t.candidate.capacity_units} units of pick capacity left"
        else:
            continue
        found.append(Alternative([t.candidate.location], None, reason))
    return found


def back_order_on(sku: str, short: int, candidates: Sequence[Candidate]) -> date | None:
    """The day incoming supply at the eligible locations first adds up to the shortfall."""
    arrivals = sorted(
        (a.expected_on, a.qty) for c in candidates for a in c.incoming if a.sku == sku
    )
    total = 0
    for day, qty in arrivals:
        total += qty
        if total >= short:
            return day
    return None


def date_back_orders(p: Plan, method: Method, candidates: Sequence[Candidate]) -> Plan:
    """The plan with each short line's back-order date from these candidates' incoming
    supply (the glue reads supply only once a plan turns out partial)."""
    if not p.uncovered:
        return p
    kept = [c for c, _ in eligible(method, candidates)[0]]
    uncovered = [
        msgspec.structs.replace(u, back_order_on=back_order_on(u.sku, u.short, kept))
        for u in p.uncovered
    ]
    return msgspec.structs.replace(p, uncovered=uncovered)
