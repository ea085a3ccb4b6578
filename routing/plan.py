"""plan(order, candidates, policy) -> Plan: the pure router. No I/O, inputs untouched,
the same inputs give the same plan (ties broken by cost, shipments, distance, ids)."""

from collections.abc import Sequence

import msgspec

from atp.limits import LINE_QTY_MAX
from atp.model import InvalidInput
from atp.validate import check_id, check_qty
from routing.choice import Choice, evaluate
from routing.cost import Table, price, terms
from routing.eligibility import eligible, is_pickup
from routing.explain import alternatives, back_order_on
from routing.limits import CANDIDATES_MAX, ROUTE_LINES_MAX, SEARCH_NODES_MAX
from routing.model import (
    Candidate,
    Order,
    Plan,
    PlanStatus,
    Policy,
    Shipment,
    ShipmentLine,
    Uncovered,
)
from routing.search import solve


def check_order(order: Order, candidates: Sequence[Candidate]) -> None:
    if not 1 <= len(order.lines) <= ROUTE_LINES_MAX:
        raise InvalidInput("lines", f"must hold 1 to {ROUTE_LINES_MAX} lines")
    skus = [check_id(f"lines[{i}].sku", ln.sku) for i, ln in enumerate(order.lines)]
    for i, ln in enumerate(order.lines):  # msgspec checks these on decode, not in code
        check_qty(f"lines[{i}].qty", ln.qty, LINE_QTY_MAX)
    if len(set(skus)) != len(skus):
        raise InvalidInput("lines", "must not repeat a sku")
    if len(candidates) > CANDIDATES_MAX:
        raise InvalidInput("candidates", f"must hold at most {CANDIDATES_MAX} locations")
    locations = [c.location for c in candidates]
    if len(set(locations)) != len(locations):
        raise InvalidInput("candidates", "must not repeat a location")


def check_policy(policy: Policy) -> Policy:
    """A Policy built in code skips the bounds msgspec applies on decode: apply them."""
    try:
        return msgspec.convert(msgspec.structs.asdict(policy), Policy)
    except msgspec.ValidationError as error:
        raise InvalidInput("policy", str(error)) from None


def plan(
    order: Order,
    candidates: Sequence[Candidate],
    policy: Policy | None = None,
    nodes_max: int = SEARCH_NODES_MAX,
) -> Plan:
    """The cheapest way to ship (or hand over) every line; else the best partial."""
    check_order(order, candidates)
    p = check_policy(policy or Policy())
    if is_pickup(order.method):
        p = msgspec.structs.replace(p, shipments_max=1)
    skus = [ln.sku for ln in order.lines]
    qtys = [ln.qty for ln in order.lines]
    kept, excluded = eligible(order.method, candidates)
    tables = []
    for c, distance in kept:
        table = price(c, distance, skus, qtys, p)
        if table.capacity > 0:  # capacity left (eligible) and some unit of the order held
            tables.append(table)
        else:
            excluded["no_stock"] += 1
    tables.sort(key=lambda t: (t.fixed, t.candidate.location))
    outcome = solve(tables, qtys, p, nodes_max)
    best, status = outcome.best, PlanStatus.complete
    if best is None:
        best = _best_partial(tables, qtys, p, nodes_max)
        status = PlanStatus.partial if best is not None else PlanStatus.unfulfillable
    shipments = _shipments(tables, best, skus, p) if best is not None else []
    shipped = [0] * len(skus)
    for units in best.units if best is not None else []:
        shipped = [a + b for a, b in zip(shipped, units, strict=True)]
    uncovered = [
        Uncovered(sku, q, q - got, back_order_on(sku, q - got, [c for c, _ in kept]))
        for sku, q, got in zip(skus, qtys, shipped, strict=True)
        if got < q
    ]
    return Plan(
        status=status,
        shipments=shipments,
        cost_total=best.cost if best is not None else 0.0,
        uncovered=uncovered,
        alternatives=alternatives(tables, best, outcome, skus, qtys, p),
        excluded=dict(sorted(excluded.items())),
        proven_optimal=outcome.proven_optimal and status is PlanStatus.complete,
        nodes=outcome.nodes,
    )


def _best_partial(
    tables: Sequence[Table], qtys: Sequence[int], p: Policy, nodes_max: int
) -> Choice | None:
    """Route as many units as possible, then as cheaply as possible: first as a complete
    plan for what the locations hold at all, else greedily by units covered."""
    if not tables:
        return None
    reachable = [min(q, sum(t.avail[i] for t in tables)) for i, q in enumerate(qtys)]
    outcome = solve(tables, reachable, p, nodes_max)
    if outcome.best is not None:
        return outcome.best
    members: list[int] = []
    routed = 0
    while len(members) < p.shipments_max:
        gains = [
            (evaluate(tables, tuple(sorted((*members, j))), qtys, p), j)
            for j in range(len(tables))
            if j not in members
        ]
        if not gains:
            break
        choice, j = max(gains, key=lambda g: (g[0].routed, -g[0].cost, -g[1]))
        if choice.routed <= routed:
            break
        members, routed = [*members, j], choice.routed
    return evaluate(tables, tuple(sorted(members)), qtys, p) if routed else None


def _shipments(
    tables: Sequence[Table], choice: Choice, skus: Sequence[str], p: Policy
) -> list[Shipment]:
    shipments = []
    for m, units in zip(choice.members, choice.units, strict=True):
        t = tables[m]
        cost = terms(t, units, p)
        lines = [ShipmentLine(s, u) for s, u in zip(skus, units, strict=True) if u]
        shipments.append(
            Shipment(
                t.candidate.location,
                t.candidate.kind,
                round(t.distance_km, 3),
                lines,
                cost,
                cost.total,
            )
        )
    shipments.sort(key=lambda s: s.location)
    return shipments
