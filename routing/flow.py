"""Min-cost flow for one subset of locations: which units each location ships.

Lines on one side, locations on the other; each line-location pair is two arcs (units the
store can spare above its depth threshold, then the penalised ones below it), and each
location's pick capacity caps what it ships. Successive shortest paths (Bellman-Ford on the
residual graph, which has negative arcs; SPFA) is exact, and the graph is tiny: at most
ROUTE_LINES_MAX + SPLIT_SHIPMENTS_MAX + 2 nodes. Returns the most units it can route at
the least cost, so the same call serves complete and partial plans.
"""

from collections import deque
from collections.abc import Sequence

Segment = tuple[int, float]  # (units, cost per unit)


def route_units(
    demand: Sequence[int],
    segments: Sequence[Sequence[Sequence[Segment]]],  # [location][line] -> segments
    capacity: Sequence[int],
) -> tuple[int, float, list[list[int]]]:
    """(units routed, their cost, units[location][line])."""
    lines, locs = len(demand), len(capacity)
    source, sink = lines + locs, lines + locs + 1
    nodes = sink + 1
    # Arc arrays: to, residual capacity, cost; arc k's reverse is k ^ 1.
    to: list[int] = []
    cap: list[int] = []
    cost: list[float] = []
    out: list[list[int]] = [[] for _ in range(nodes)]
    pair_arcs: list[tuple[int, int, int]] = []  # (arc, location, line)

    def add(a: int, b: int, c: int, w: float) -> int:
        out[a].append(len(to))
        to.append(b)
        cap.append(c)
        cost.append(w)
        out[b].append(len(to))
        to.append(a)
        cap.append(0)
        cost.append(-w)
        return len(to) - 2

    for i, units in enumerate(demand):
        add(source, i, units, 0.0)
    for loc in range(locs):
        add(lines + loc, sink, capacity[loc], 0.0)
        for i in range(lines):
            for units, unit_cost in segments[loc][i]:
                if units > 0:
                    pair_arcs.append((add(i, lines + loc, units, unit_cost), loc, i))
    routed, total = 0, 0.0
    inf = float("inf")
    while True:
        # Shortest path by SPFA (queue-based Bellman-Ford): residual arcs carry negative
        # costs, and on graphs this small it visits far fewer arcs than full passes.
        dist = [inf] * nodes
        via = [-1] * nodes
        queued = [False] * nodes
        dist[source] = 0.0
        queue = deque([source])
        while queue:
            a = queue.popleft()
            queued[a] = False
            base = dist[a]
            for k in out[a]:
                if cap[k] > 0:
                    b = to[k]
                    d = base + cost[k]
                    if d < dist[b] - 1e-12:
                        dist[b] = d
                        via[b] = k
                        if not queued[b]:
                            queued[b] = True
                            queue.append(b)
        if dist[sink] == inf:
            break
        push, node = 1 << 62, sink
        while node != source:
            push = min(push, cap[via[node]])
            node = to[via[node] ^ 1]
        node = sink
        while node != source:
            cap[via[node]] -= push
            cap[via[node] ^ 1] += push
            node = to[via[node] ^ 1]
        routed += push
        total += push * dist[sink]
    shipped = [[0] * lines for _ in range(locs)]
    for arc, loc, i in pair_arcs:
        shipped[loc][i] += cap[arc ^ 1]
    return routed, total, shipped
