"""Latency summaries, named figures and targets and their table form, shared by the benchmarks.

Latencies are kept as nanosecond integers in ``array('q')``: no per-sample objects for the
cycle collector to walk, and exact nearest-rank percentiles rather than histogram buckets.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import dataclasses
import math
from array import array
from collections.abc import Iterable, Sequence

import msgspec

NS_PER_US = 1_000
NS_PER_S = 1_000_000_000


class Figure(msgspec.Struct, frozen=True, omit_defaults=True):
    """One reported number; ``baseline`` names the figure ``ratio_to_baseline`` divides by."""

    name: str
    value: float
    unit: str
    ratio_to_baseline: float | None = None
    baseline: str | None = None


class Target(msgspec.Struct, frozen=True):
    """A goal: ``measured`` against ``limit``, ``bound`` one of at_most, at_least, equal."""

    name: str
    measured: float
    limit: float
    unit: str
    bound: str
    met: bool


def target(name: str, measured: float, limit: float, unit: str, bound: str) -> Target:
    checks = {
        "at_most": measured <= limit,
        "at_least": measured >= limit,
        "equal": measured == limit,
    }
    return Target(name, measured, limit, unit, bound, checks[bound])


_BOUND_SIGNS = {"at_most": "<=", "at_least": ">=", "equal": "=="}


def targets_markdown(targets: Sequence[Target]) -> list[str]:
    """The RESULTS.md table of targets: name, measured, limit, met."""
    lines = ["| target | measured | limit | met |", "|---|--:|--:|---|"]
    for t in targets:
        bound = _BOUND_SIGNS.get(t.bound, t.bound)
        lines.append(
            f"| {t.name} | {t.measured:g} {t.unit} | {bound} {t.limit:g} | "
            f"{'yes' if t.met else 'NO'} |"
        )
    return lines


class Summary(msgspec.Struct, frozen=True):
    calls: int
    ops_per_s: float
    latency_us_p50: float
    latency_us_p99: float
    latency_us_max: float
    # This process's CPU per call (all callers, the event loop, the client): under a noisy
    # neighbour it moves far less than wall-clock latency, so it shows per-call overhead.
    cpu_us_per_call: float
    # The server's CPU per call, where the benchmark reads it (0 otherwise). Other clients of
    # a shared server count too: an upper bound unless the server is quiet.
    server_cpu_us_per_call: float


@dataclasses.dataclass
class Samples:
    latencies_ns: array[int]
    wall_ns: int
    cpu_ns: int
    server_cpu_ns: int = 0

    def __add__(self, other: Samples) -> Samples:
        return Samples(
            self.latencies_ns + other.latencies_ns,
            self.wall_ns + other.wall_ns,
            self.cpu_ns + other.cpu_ns,
            self.server_cpu_ns + other.server_cpu_ns,
        )


def percentile_ns(sorted_ns: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of samples already sorted ascending."""
    assert sorted_ns, "no samples"
    assert 0 < q <= 100
    return sorted_ns[max(0, math.ceil(q / 100 * len(sorted_ns)) - 1)]


def summarize(samples: Samples) -> Summary:
    assert samples.wall_ns > 0
    ordered = sorted(samples.latencies_ns)
    return Summary(
        calls=len(ordered),
        ops_per_s=len(ordered) * NS_PER_S / samples.wall_ns,
        latency_us_p50=percentile_ns(ordered, 50) / NS_PER_US,
        latency_us_p99=percentile_ns(ordered, 99) / NS_PER_US,
        latency_us_max=ordered[-1] / NS_PER_US,
        cpu_us_per_call=samples.cpu_ns / len(ordered) / NS_PER_US,
        server_cpu_us_per_call=samples.server_cpu_ns / len(ordered) / NS_PER_US,
    )


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]], markdown: bool) -> str:
    """Text columns, first left-aligned and the rest right-aligned (numbers)."""
    body = [list(r) for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *body, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |" if markdown else "  ".join(padded)

    rule = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
        if markdown
        else "  ".join("-" * w for w in widths)
    )
    return "\n".join([line(headers), rule, *(line(r) for r in body)])
