"""Properties of the pure router over random small networks (hypothesis), checked against
brute force over every subset of locations."""

import itertools

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.cost import assign, price
from routing.eligibility import eligible, may_serve
from routing.model import (
    Candidate,
    Capability,
    LocationKind,
    NearMe,
    Order,
    OrderLine,
    PlanStatus,
    Policy,
    ShipTo,
)
from routing.plan import plan

SKUS = ("A", "B", "C", "D")
CAPS = st.sampled_from(
    [
        frozenset({Capability.ship}),
        frozenset({Capability.ship_from_store, Capability.pickup}),
        frozenset({Capability.ship_from_store}),
        frozenset({Capability.pickup}),
    ]
)


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    count = draw(st.integers(1, 7))
    out = []
    for k in range(count):
        out.append(
            Candidate(
                f"L{k}",
                draw(st.sampled_from(LocationKind)),
                draw(CAPS),
                draw(st.floats(59.0, 61.0)),
                draw(st.floats(9.0, 12.0)),
                draw(st.dictionaries(st.sampled_from(SKUS), st.integers(0, 6), max_size=4)),
                capacity_units=draw(st.integers(0, 12)),
                priority=draw(st.integers(0, 2)),
                active=draw(st.booleans()) or draw(st.booleans()),
            )
        )
    return out


@st.composite
def orders(draw: st.DrawFn) -> Order:
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=4, unique=True))
    lines = [OrderLine(s, draw(st.integers(1, 4))) for s in skus]
    lat, lon = draw(st.floats(59.0, 61.0)), draw(st.floats(9.0, 12.0))
    near = draw(st.booleans()) and draw(st.booleans())
    method = NearMe(lat, lon, draw(st.floats(10.0, 200.0))) if near else ShipTo(lat, lon)
    return Order(lines, method)


policies = st.builds(
    Policy,
    shipment_cost=st.sampled_from([0.0, 3.0, 6.0]),
    cost_per_km=st.sampled_from([0.0, 0.02]),
    depth_threshold_units=st.integers(0, 3),
    depth_penalty_per_unit=st.sampled_from([0.0, 3.0, 9.0]),
    capacity_cost=st.sampled_from([0.0, 2.0]),
    priority_cost=st.sampled_from([0.0, 0.5]),
    shipments_max=st.integers(1, 5),
)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def brute_force(order: Order, cands: list[Candidate], p: Policy) -> float | None:
    """The cheapest complete plan over every subset of eligible locations."""
    if isinstance(order.method, NearMe):
        p = msgspec.structs.replace(p, shipments_max=1)
    skus, qtys = [ln.sku for ln in order.lines], [ln.qty for ln in order.lines]
    kept, _ = eligible(order.method, cands)
    tables = [price(c, d, skus, qtys, p) for c, d in kept]
    best = None
    for size in range(1, p.shipments_max + 1):
        for subset in itertools.combinations(tables, size):
            routed, variable, units = assign(subset, qtys, p)
            if routed == sum(qtys):
                # A location shipping nothing is no shipment: its fee is not paid.
                cost = variable + sum(t.fixed for t, u in zip(subset, units, strict=True) if any(u))
                best = cost if best is None else min(best, cost)
    return best


@FAST
@given(orders(), candidates(), policies)
def test_plans_are_deterministic_and_leave_inputs_alone(
    order: Order, cands: list[Candidate], p: Policy
) -> None:
    before = msgspec.json.encode([order, cands, p])
    first = plan(order, cands, p)
    assert msgspec.json.encode([order, cands, p]) == before
    assert plan(order, cands, p) == first
    assert plan(order, cands[::-1], p) == first  # the input order is no tie-breaker


@FAST
@given(orders(), candidates(), policies)
def test_plans_respect_stock_capacity_and_capabilities(
    order: Order, cands: list[Candidate], p: Policy
) -> None:
    result = plan(order, cands, p)
    by_name = {c.location: c for c in cands}
    eligible_names = {c.location for c, _ in eligible(order.method, cands)[0]}
    limit = 1 if isinstance(order.method, NearMe) else p.shipments_max
    assert len(result.shipments) <= limit
    shipped = dict.fromkeys((ln.sku for ln in order.lines), 0)
    for s in result.shipments:
        c = by_name[s.location]
        assert s.location in eligible_names
        assert sum(ln.qty for ln in s.lines) <= c.capacity_units
        for ln in s.lines:
            assert 0 < ln.qty <= c.atp.get(ln.sku, 0)
            shipped[ln.sku] += ln.qty
    for ln in order.lines:
        short = sum(u.short for u in result.uncovered if u.sku == ln.sku)
        assert shipped[ln.sku] + short == ln.qty
    assert (result.status is PlanStatus.complete) == (not result.uncovered)
    assert abs(sum(s.cost_total for s in result.shipments) - result.cost_total) < 1e-6


@FAST
@given(orders(), candidates(), policies)
def test_never_cannot_fulfil_when_a_plan_exists_and_optimal_when_proven(
    order: Order, cands: list[Candidate], p: Policy
) -> None:
    result = plan(order, cands, p)
    best = brute_force(order, cands, p)
    if best is None:
        assert result.status is not PlanStatus.complete
        return
    assert result.status is PlanStatus.complete
    assert result.proven_optimal
    assert abs(result.cost_total - best) <= 1e-6 * max(1.0, best)


@FAST
@given(orders(), candidates())
def test_may_serve_is_eligible_bar_the_radius(order: Order, cands: list[Candidate]) -> None:
    # The glue picks what to read with may_serve (no distance); plan() uses eligible.
    kept = [c.location for c, _ in eligible(order.method, cands)[0]]
    serving = [c.location for c in may_serve(order.method, cands)]
    if isinstance(order.method, NearMe):
        assert set(kept) <= set(serving)
    else:
        assert kept == serving
