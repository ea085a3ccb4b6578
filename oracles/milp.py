"""The exact optimum as a mixed-integer program, solved by HiGHS (scipy.optimize.milp).

A yardstick for the search, not a runtime path: tests and bench/routing.py compare the
plan's cost with it. It prices locations with the same tables as the router (routing/cost.py)
so it checks the *search*; the cost terms are unit-tested on their own. Unit variables are
continuous: once the open locations are fixed the rest is a transportation problem, whose
optimum is integral, so only the open/closed choice needs to be integer.
"""

from collections.abc import Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]
from scipy.sparse import coo_array  # type: ignore[import-untyped]

from routing.cost import Table
from routing.model import Policy


def optimum(tables: Sequence[Table], qtys: Sequence[int], p: Policy) -> float | None:
    """The least total cost of a complete plan, or None when none exists."""
    n = len(tables)
    if n == 0:
        return None
    cost: list[float] = [t.fixed for t in tables]
    upper: list[float] = [1.0] * n
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    row = 0
    demand_rows = {i: [] for i in range(len(qtys))}  # type: dict[int, list[int]]
    capacity_rows: dict[int, list[int]] = {j: [] for j in range(n)}
    for j, t in enumerate(tables):
        for i, segments in enumerate(t.segments(p.depth_penalty_per_unit)):
            for units, unit_cost in segments:
                if units <= 0:
                    continue
                var = len(cost)
                cost.append(unit_cost)
                upper.append(float(units))
                demand_rows[i].append(var)
                capacity_rows[j].append(var)
                # x <= units * y: a closed location ships nothing.
                rows += [row, row]
                cols += [var, j]
                vals += [1.0, -float(units)]
                lo.append(-np.inf)
                hi.append(0.0)
                row += 1
    for i, q in enumerate(qtys):
        for var in demand_rows[i]:
            rows.append(row)
            cols.append(var)
            vals.append(1.0)
        lo.append(float(q))
        hi.append(float(q))
        row += 1
    for j, t in enumerate(tables):
        for var in capacity_rows[j]:
            rows.append(row)
            cols.append(var)
            vals.append(1.0)
        rows.append(row)
        cols.append(j)
        vals.append(-float(t.capacity))
        lo.append(-np.inf)
        hi.append(0.0)
        row += 1
    rows += [row] * n
    cols += list(range(n))
    vals += [1.0] * n
    lo.append(-np.inf)
    hi.append(float(p.shipments_max))
    row += 1
    matrix = coo_array((vals, (rows, cols)), shape=(row, len(cost))).tocsr()
    integrality = np.zeros(len(cost))
    integrality[:n] = 1
    result = milp(
        c=np.array(cost),
        constraints=LinearConstraint(matrix, np.array(lo), np.array(hi)),
        integrality=integrality,
        bounds=Bounds(np.zeros(len(cost)), np.array(upper)),
        options={"mip_rel_gap": 1e-7},
    )
    if result.status == 2:  # infeasible
        return None
    assert result.status == 0, result.message
    return float(result.fun)
