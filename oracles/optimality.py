"""The router against the exact optimum on generated instances: the figures the issue
asks for (share within 1%, worst gap, "cannot fulfill" while a plan exists)."""

import time
from collections.abc import Sequence

import msgspec

from oracles.instances import random_instance
from oracles.milp import optimum
from routing.cost import price
from routing.eligibility import eligible, is_pickup
from routing.model import PlanStatus
from routing.plan import plan

GAP_TOLERANCE = 0.01  # the "within 1% of optimal cost"
# Costs are floats summed in different orders by the two solvers.
COST_EPS = 1e-6


class Check(msgspec.Struct, frozen=True):
    seed: int
    lines: int
    candidates: int
    plan_cost: float | None  # None: the plan is not complete
    optimum: float | None  # None: no complete plan exists
    proven_optimal: bool
    nodes: int
    plan_ms: float
    milp_ms: float

    @property
    def gap(self) -> float | None:
        if self.plan_cost is None or self.optimum is None:
            return None
        return (self.plan_cost - self.optimum) / max(self.optimum, COST_EPS)


def check(seed: int) -> Check:
    order, candidates, policy = random_instance(seed)
    started = time.perf_counter()
    routed = plan(order, candidates, policy)
    plan_ms = (time.perf_counter() - started) * 1000
    skus = [ln.sku for ln in order.lines]
    qtys = [ln.qty for ln in order.lines]
    if is_pickup(order.method):
        policy = msgspec.structs.replace(policy, shipments_max=1)
    kept, _ = eligible(order.method, candidates)
    tables = [t for c, d in kept if any((t := price(c, d, skus, qtys, policy)).avail)]
    started = time.perf_counter()
    best = optimum(tables, qtys, policy)
    milp_ms = (time.perf_counter() - started) * 1000
    complete = routed.status is PlanStatus.complete
    return Check(
        seed,
        len(order.lines),
        len(candidates),
        routed.cost_total if complete else None,
        best,
        routed.proven_optimal,
        routed.nodes,
        plan_ms,
        milp_ms,
    )


class Figures(msgspec.Struct, frozen=True):
    instances: int
    feasible: int  # a complete plan exists (by the MILP)
    within_1pct: int
    within_1pct_share: float
    worst_gap: float
    cannot_fulfil_when_feasible: int
    complete_when_infeasible: int  # must be 0: the MILP would have found it
    below_optimum: int  # must be 0: the plan's cost beneath the MILP's means a cost bug
    proven_optimal: int
    plan_ms_max: float
    milp_ms_total: float


def figures(checks: Sequence[Check]) -> Figures:
    feasible = [c for c in checks if c.optimum is not None]
    gaps = [g for c in feasible if (g := c.gap) is not None]
    within = sum(g <= GAP_TOLERANCE for g in gaps)
    return Figures(
        instances=len(checks),
        feasible=len(feasible),
        within_1pct=within,
        within_1pct_share=within / len(feasible) if feasible else 1.0,
        worst_gap=max(gaps, default=0.0),
        cannot_fulfil_when_feasible=sum(c.plan_cost is None for c in feasible),
        complete_when_infeasible=sum(c.optimum is None and c.plan_cost is not None for c in checks),
        below_optimum=sum(g < -COST_EPS for g in gaps),
        proven_optimal=sum(c.proven_optimal for c in checks),
        plan_ms_max=max((c.plan_ms for c in checks), default=0.0),
        milp_ms_total=sum(c.milp_ms for c in checks),
    )
