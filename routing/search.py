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

import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import TypeVar

from routing.choice import Choice, Outcome, evaluate_within, rank_key
from routing.cost import Table
from routing.limits import IMPROVE_EVALS_MAX
from routing.model import Policy
from routing.seed import greedy, singles_priced

EPS = 1e-9
T = TypeVar("T", int, float)


def _suffix(
    rows: Sequence[Sequence[T]], fold: Callable[[T, T], T], empty: T, lines: int
) -> list[Sequence[T]]:
    """out[j][i] = fold of rows[j..][i] (out[len(rows)] all ``empty``): per line at C speed
    (accumulate over the transposed rows), since every plan builds three of these."""
    columns = [list(accumulate(reversed(column), fold)) for column in zip(*rows, strict=True)]
    out: list[Sequence[T]] = [tuple(row) for row in zip(*columns, strict=True)]
    out.reverse()
    out.append((empty,) * lines)
    return out


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
        lines = len(qtys)
        inf = float("inf")
        # Per-table fields as plain lists: read in the innermost loops.
        self.penalty = p.depth_penalty_per_unit
        self.f = [t.fixed for t in tables]
        self.av = [t.avail for t in tables]
        self.sp = [t.spare for t in tables]
        self.units = units = [t.unit for t in tables]
        # Per-unit costs are at least the cheapest capacity term among locations holding
        # the line: a bound that holds for every subset.
        cheapest = [
            min((u for u, avail in zip(units, self.av, strict=True) if avail[i] > 0), default=0.0)
            for i in range(lines)
        ]
        self.var_floor = sum(q * c for q, c in zip(qtys, cheapest, strict=True))
        # ext[j]: what a unit from j costs at least beyond its line's cheapest capacity term
        # (the depth penalty when j has no spare unit of any line it holds). In a subset no
        # member of which ships nothing (the others reduce to smaller subsets, searched on
        # their own), each member ships a unit of its own: their ext add up.
        self.ext = [
            max(
                0.0,
                min(
                    (
                        t.unit + (0.0 if s > 0 else self.penalty) - c
                        for a, s, c in zip(t.avail, t.spare, cheapest, strict=True)
                        if a > 0
                    ),
                    default=0.0,
                ),
            )
            for t in tables
        ]
        # suffix[j][i]: units of line i that locations j.. could add; prunes dead branches.
        self.suffix = _suffix(self.av, operator.add, 0, lines)
        self.suffix_spare = _suffix(self.sp, operator.add, 0, lines)
        # holder_fixed[j][i]: fixed cost of the cheapest location j.. holding line i. A
        # branch still missing line i must pay at least that much more.
        held = [
            [fixed if a > 0 else inf for a in avail]
            for fixed, avail in zip(self.f, self.av, strict=True)
        ]
        self.holder_fixed = _suffix(held, min, inf, lines)
        # Units one location j.. can ship at most, and fixed-cost prefix sums: a branch
        # missing R units needs ceil(R / most) more locations, each at least the next fee.
        self.most = [*reversed(list(accumulate(reversed([t.capacity for t in tables]), max))), 0]
        self.fixed_prefix = [0.0, *accumulate(self.f)]
        # Bit i set when the location holds line i: the cheap first test of a node.
        self.masks = [sum(1 << i for i, a in enumerate(avail) if a) for avail in self.av]
        # A location that cannot pick every unit it holds for the order.
        self.tight = [t.capacity < sum(t.avail) for t in tables]
        self.covers: dict[int, list[int]] = {}

    def offer(self, c: Choice | None) -> None:
        if c is None or c.routed < self.total:
            return
        if self.best is None or rank_key(c, self.t) < rank_key(self.best, self.t):
            self.best = c
            self.ub = c.cost + EPS  # ties within EPS are still explored: the key decides

    def forced_penalty(self, spare: Sequence[int], extra: float) -> float:
        """A lower bound on the per-unit costs of a subset: the floor, plus the larger of
        (a) the penalty on units a line needs beyond every spare unit on offer and (b)
        ``extra``, its members' excess (the two may count the same unit: hence max)."""
        short = 0
        for q, s in zip(self.q, spare, strict=True):
            if q > s:
                short += q - s
        penalised = self.penalty * short
        return self.var_floor + (penalised if penalised > extra else extra)

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

    def covering(self, need_mask: int) -> list[int]:
        """Locations holding every line in ``need_mask``, in table order (cached per mask)."""
        found = self.covers.get(need_mask)
        if found is None:
            found = [j for j, m in enumerate(self.masks) if not need_mask & ~m]
            self.covers[need_mask] = found
        return found

    def finish(
        self,
        start: int,
        members: tuple[int, ...],
        need: list[int],
        need_mask: int,
        spare: list[int],
        fixed: float,
        extra: float,
    ) -> None:
        """The branch has room (or budget) for one more location: it must fill every
        missing unit alone, so only locations holding every missing line are tried."""
        f, av, sp, ext, floor = self.f, self.av, self.sp, self.ext, self.var_floor
        covering = self.covering(need_mask)
        for j in covering[bisect_left(covering, start) :]:
            fixed_j = fixed + f[j]
            if fixed_j + floor > self.ub:
                return  # sorted by fixed cost: no later location does better
            self.nodes += 1
            if self.nodes > self.nodes_max:
                self.cut = True
                return
            for units, a in zip(need, av[j], strict=True):
                if units > a:
                    break
            else:
                with_j = [a + b for a, b in zip(spare, sp[j], strict=True)]
                if fixed_j + self.forced_penalty(with_j, extra + ext[j]) <= self.ub:
                    self.offer(evaluate_within(self.t, (*members, j), self.q, self.p, self.ub))

    def dfs(
        self,
        start: int,
        members: tuple[int, ...],
        need: list[int],
        spare: list[int],
        fixed: float,
        extra: float,
    ) -> None:
        f, av, sp, masks, n = self.f, self.av, self.sp, self.masks, len(self.t)
        ext = self.ext
        size_max = self.p.shipments_max
        tight = any(self.tight[m] for m in members)
        unit_of = self.units
        weak = 0  # lines the members cannot give from spare units alone
        for i, (q, s) in enumerate(zip(self.q, spare, strict=True)):
            if s < q:
                weak |= 1 << i
        need_mask = 0
        for i, units in enumerate(need):
            if units:
                need_mask |= 1 << i
        floor = self.var_floor
        if need_mask:
            # Every missing line needs a holder: the dearest of the cheapest holders bounds
            # what any completion of this branch costs.
            holders = self.holder_fixed[start]
            most = max(h for h, units in zip(holders, need, strict=True) if units)
            if fixed + most + floor + extra > self.ub:
                return
            if len(members) + 1 >= size_max:
                self.finish(start, members, need, need_mask, spare, fixed, extra)
                return
        second_last = len(members) + 2 >= size_max
        room = len(members) + 1 < size_max  # j may be followed by another location
        for j in range(start, n):
            ub, fixed_j = self.ub, fixed + f[j]
            if fixed_j + floor > ub:
                return  # sorted by fixed cost: no later location does better
            if need_mask and (j + 1 >= n or fixed_j + f[j + 1] + floor > ub):
                # No budget for two more: neither for any later pair (sorted by fixed cost),
                # so one location from here on must complete the order.
                self.finish(j, members, need, need_mask, spare, fixed, extra)
                return
            self.nodes += 1
            if self.nodes > self.nodes_max:
                self.cut = True
                return
            extra_j = extra + ext[j]
            if fixed_j + floor + extra_j > ub:
                continue  # j's own units cost too much more than the cheapest holders'
            mask = masks[j]
            # A location must bring units still missing, unless nothing is: then it may
            # only lower per-unit costs (spare a store's last units, a busy store's picks).
            # Before that too, it may join for a line the members cannot give cheaply:
            # below their depth threshold (weak), at a dearer capacity term, or at all
            # when a member cannot pick everything it holds (tight). Otherwise whatever it
            # ships could move to the members' spare units at no more cost: a subset
            # without it is as good and is searched on its own.
            if need_mask and not (need_mask | weak) & mask and not (tight and mask):
                dearer = 0
                for m in members:
                    if unit_of[m] > unit_of[j]:
                        dearer |= masks[m]
                if not dearer & mask:
                    continue
            rest = need_mask & ~mask  # lines j does not hold at all: still missing after it
            if rest and second_last:
                # Then one location must hold them all: the cheapest such after j bounds it
                # before any list is built (finish() would stop at the same test).
                covering = self.covering(rest)
                k = bisect_right(covering, j)
                if k >= len(covering) or fixed_j + f[covering[k]] + floor + extra_j > ub:
                    continue
            left, left_mask = [], 0
            for i, (units, a) in enumerate(zip(need, av[j], strict=True)):
                if units > a:
                    left.append(units - a)
                    left_mask |= 1 << i
                else:
                    left.append(0)
            chosen = (*members, j)
            with_j = [a + b for a, b in zip(spare, sp[j], strict=True)]
            if not left_mask and fixed_j + self.forced_penalty(with_j, extra_j) <= ub:
                # If lines are covered but pick capacity is not, any location bringing
                # capacity may help, whichever line it holds: the branch goes on with no
                # line "missing", as when sparing depth.
                self.offer(evaluate_within(self.t, chosen, self.q, self.p, ub))
            if not room or j + 1 >= n:
                continue
            if left_mask and second_last:
                # One slot left: only a later location holding every missing line can
                # complete the branch, and finish() tries exactly those, cheapest first.
                self.finish(j + 1, chosen, left, left_mask, with_j, fixed_j, extra_j)
                if self.cut:
                    return
                continue
            if not all(s >= units for s, units in zip(self.suffix[j + 1], left, strict=True)):
                continue
            if (
                fixed_j
                + self.more_fixed(j + 1, left, len(chosen))
                + self.forced_penalty(
                    [a + b for a, b in zip(with_j, self.suffix_spare[j + 1], strict=True)],
                    extra_j,
                )
                > self.ub
            ):
                continue
            self.dfs(j + 1, chosen, left, with_j, fixed_j, extra_j)
            if self.cut:
                return


def solve(tables: Sequence[Table], qtys: Sequence[int], p: Policy, nodes_max: int) -> Outcome:
    s = _Search(tables, qtys, p, nodes_max)
    singles = singles_priced(tables, qtys, p, s.total)
    if singles:
        s.offer(singles[0])
    seed = greedy(tables, qtys, p)
    if seed is not None:
        s.offer(seed)
    if p.shipments_max > 1:
        s.dfs(0, (), list(qtys), [0] * len(qtys), 0.0, 0.0)
    if s.cut and s.best is not None:
        # A finished search has tried every superset already; a cut one may not have.
        if len(s.best.members) < p.shipments_max:
            _add_one(s)
        _swap(s)
    return Outcome(s.best, singles, seed, not s.cut, s.nodes)


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
        s.offer(evaluate_within(s.t, tuple(sorted((*current.members, j))), s.q, s.p, s.ub))


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
                s.offer(evaluate_within(s.t, members, s.q, s.p, s.ub))
            if s.best is not current:
                improved = True
                break
