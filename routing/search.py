"""Choose the set of shipping locations: exact single shipments, then branch-and-bound
over subsets for splits.

Tables arrive sorted by (fixed cost, location id), so a depth-first search that adds
locations in that order can stop a branch as soon as its fixed costs plus a lower bound
on the per-unit costs reach the best plan found: every later location costs at least as
much. While units are missing, a location joins only if it brings some, so every minimal
covering subset is reachable; once the order is covered a location may still join to
spare a store's last units or a busy store's picks, under the same bound. The greedy seed
gives the bound something to cut with from the first node. Finished, the search is exact.
"""

from collections.abc import Sequence

import msgspec

from routing.cost import Table, assign
from routing.limits import IMPROVE_EVALS_MAX
from routing.model import Policy

EPS = 1e-9


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


def _key(c: Choice, tables: Sequence[Table]) -> tuple[float, int, float, tuple[str, ...]]:
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


class _Search:
    def __init__(
        self, tables: Sequence[Table], qtys: Sequence[int], p: Policy, nodes_max: int
    ) -> None:
        self.t, self.q, self.p = tables, list(qtys), p
        self.total = sum(qtys)
        self.nodes_max = nodes_max
        self.nodes = 0
        self.cut = False
        self.best: Choice | None = None
        self.ub = float("inf")  # the best cost found, plus EPS
        n = len(tables)
        # Per-unit costs are at least the cheapest capacity term among locations holding
        # the line: a bound that holds for every subset.
        self.var_floor = sum(
            q * min((t.unit for t in tables if t.avail[i] > 0), default=0.0)
            for i, q in enumerate(qtys)
        )
        # suffix[j][i]: units of line i that locations j.. could add; prunes dead branches.
        self.suffix = [[0] * len(qtys) for _ in range(n + 1)]
        self.suffix_spare = [[0] * len(qtys) for _ in range(n + 1)]
        # holder_fixed[j][i]: fixed cost of the cheapest location j.. holding line i. A
        # branch still missing line i must pay at least that much more.
        inf = float("inf")
        self.holder_fixed = [[inf] * len(qtys) for _ in range(n + 1)]
        # Units one location j.. can ship at most, and fixed-cost prefix sums: a branch
        # missing R units needs ceil(R / most) more locations, each at least the next fee.
        self.most = [0] * (n + 1)
        # Bit i set when the location holds line i: the cheap first test of a node.
        self.masks = [sum(1 << i for i, a in enumerate(t.avail) if a) for t in tables]
        self.fixed_prefix = [0.0] * (n + 1)
        for j in range(n):
            self.fixed_prefix[j + 1] = self.fixed_prefix[j] + tables[j].fixed
        for j in range(n - 1, -1, -1):
            self.holder_fixed[j] = [
                tables[j].fixed if a > 0 else h
                for a, h in zip(tables[j].avail, self.holder_fixed[j + 1], strict=True)
            ]
            self.most[j] = max(self.most[j + 1], tables[j].capacity)
            self.suffix[j] = [
                a + b for a, b in zip(self.suffix[j + 1], tables[j].avail, strict=True)
            ]
            self.suffix_spare[j] = [
                a + b for a, b in zip(self.suffix_spare[j + 1], tables[j].spare, strict=True)
            ]

    def offer(self, c: Choice) -> None:
        if c.routed < self.total:
            return
        if self.best is None or _key(c, self.t) < _key(self.best, self.t):
            self.best = c
            self.ub = c.cost + EPS  # ties within EPS are still explored: the key decides

    def forced_penalty(self, spare: Sequence[int]) -> float:
        # Units a line needs beyond every spare unit on offer are taken below a threshold.
        short = sum(max(0, q - s) for q, s in zip(self.q, spare, strict=True))
        return self.var_floor + self.p.depth_penalty_per_unit * short

    def more_fixed(self, start: int, left: list[int], size: int) -> float:
        """A lower bound on the fixed costs of the locations still to add from ``start``."""
        if not any(left):
            return self.t[start].fixed
        holder = max(h for h, n in zip(self.holder_fixed[start], left, strict=True) if n)
        most = self.most[start]
        if most <= 0:
            return float("inf")
        count = -(-sum(left) // most)
        if size + count > self.p.shipments_max or start + count > len(self.t):
            return float("inf")
        return max(holder, self.fixed_prefix[start + count] - self.fixed_prefix[start])

    def dfs(
        self,
        start: int,
        members: tuple[int, ...],
        need: list[int],
        spare: list[int],
        fixed: float,
    ) -> None:
        t, n, masks = self.t, len(self.t), self.masks
        need_mask = 0
        for i, units in enumerate(need):
            if units:
                need_mask |= 1 << i
        if need_mask:
            # Every missing line needs a holder: the dearest of the cheapest holders bounds
            # what any completion of this branch costs.
            holders = self.holder_fixed[start]
            most = max(h for h, units in zip(holders, need, strict=True) if units)
            if fixed + most + self.var_floor > self.ub:
                return
        floor = self.var_floor
        for j in range(start, n):
            if fixed + t[j].fixed + floor > self.ub:
                return  # sorted by fixed cost: no later location does better
            self.nodes += 1
            if self.nodes > self.nodes_max:
                self.cut = True
                return
            # A location must bring units still missing, unless nothing is: then it may
            # only lower per-unit costs (spare a store's last units, a busy store's picks).
            if need_mask and not need_mask & masks[j]:
                continue
            last = len(members) + 1 >= self.p.shipments_max or (
                j + 1 >= n or fixed + t[j].fixed + t[j + 1].fixed + floor > self.ub
            )
            if last and need_mask & ~masks[j]:
                continue  # no room or budget for another location: j must hold every line
            avail = t[j].avail
            left = [units - a if units > a else 0 for units, a in zip(need, avail, strict=True)]
            chosen = (*members, j)
            with_j = [a + b for a, b in zip(spare, t[j].spare, strict=True)]
            fixed_j = fixed + t[j].fixed
            if not any(left) and fixed_j + self.forced_penalty(with_j) <= self.ub:
                # If lines are covered but pick capacity is not, any location bringing
                # capacity may help, whichever line it holds: the branch goes on with no
                # line "missing", as when sparing depth.
                self.offer(evaluate(t, chosen, self.q, self.p))
            if len(chosen) >= self.p.shipments_max or j + 1 >= n:
                continue
            if not all(s >= n for s, n in zip(self.suffix[j + 1], left, strict=True)):
                continue
            if (
                fixed_j
                + self.more_fixed(j + 1, left, len(chosen))
                + self.forced_penalty(
                    [a + b for a, b in zip(with_j, self.suffix_spare[j + 1], strict=True)]
                )
                > self.ub
            ):
                continue
            self.dfs(j + 1, chosen, left, with_j, fixed_j)
            if self.cut:
                return


def solve(tables: Sequence[Table], qtys: Sequence[int], p: Policy, nodes_max: int) -> Outcome:
    s = _Search(tables, qtys, p, nodes_max)
    singles = []
    for j, table in enumerate(tables):
        if (
            all(a >= q for a, q in zip(table.avail, qtys, strict=True))
            and table.capacity >= s.total
        ):
            singles.append(evaluate(tables, (j,), qtys, p))
    singles.sort(key=lambda c: _key(c, tables))
    if singles:
        s.offer(singles[0])
    seed = greedy(tables, qtys, p)
    if seed is not None:
        s.offer(seed)
    if p.shipments_max > 1:
        s.dfs(0, (), list(qtys), [0] * len(qtys), 0.0)
    if s.cut and s.best is not None:
        # A finished search has tried every superset already; a cut one may not have.
        if len(s.best.members) < p.shipments_max:
            _add_one(s)
        _swap(s)
    return Outcome(s.best, singles, seed, not s.cut, s.nodes)


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


def _add_one(s: _Search) -> None:
    # Opening one more shipment can pay when it spares a store's last units or a busy
    # store's capacity: try each location not chosen, keep the best improvement.
    assert s.best is not None
    current = s.best
    for j in range(len(s.t)):
        if j in current.members:
            continue
        if sum(s.t[m].fixed for m in current.members) + s.t[j].fixed > current.cost:
            break  # sorted by fixed cost: the added fee alone exceeds today's total
        s.offer(evaluate(s.t, tuple(sorted((*current.members, j))), s.q, s.p))


def _swap(s: _Search) -> None:
    # The search was cut short: polish the best found by exchanging one location for
    # another until no exchange helps (bounded by IMPROVE_EVALS_MAX evaluations).
    evals = 0
    improved = True
    while improved and evals < IMPROVE_EVALS_MAX:
        improved = False
        assert s.best is not None
        current = s.best
        for out in current.members:
            for j in range(len(s.t)):
                if j in current.members or evals >= IMPROVE_EVALS_MAX:
                    continue
                evals += 1
                members = tuple(sorted((*(m for m in current.members if m != out), j)))
                s.offer(evaluate(s.t, members, s.q, s.p))
            if s.best is not current:
                improved = True
                break
