"""The routing benchmark's report: targets, and its section of bench/out/routing-results.md."""

import msgspec

from bench.common.machine import CpuUse, Machine
from bench.common.stats import Target, format_table, target
from bench.routing.run import Scenario
from oracles.optimality import Figures

P99_TARGET_US = 2_000.0  # the issue: p99 <= 2 ms for 5 lines over 50 candidates
WITHIN_SHARE_TARGET = 0.99


class Report(msgspec.Struct, frozen=True):
    benchmark: str
    date: str
    command: str
    mode: str
    duration_s: float
    machine: Machine
    load_average_start: tuple[float, float, float]
    cpu_use: CpuUse
    scenarios: list[Scenario]
    optimality: Figures
    targets: list[Target]


def targets(scenarios: list[Scenario], f: Figures) -> list[Target]:
    [five] = [s for s in scenarios if (s.lines, s.candidates) == (5, 50)]
    return [
        target(
            "plan p99 (replica fetch), 5 lines x 50 candidates",
            five.replica.latency_us_p99,
            P99_TARGET_US,
            "us",
            "at_most",
        ),
        target(
            "plan p99 (replica fetch, best of 3 per order), 5 lines x 50 candidates",
            five.replica_best.latency_us_p99,
            P99_TARGET_US,
            "us",
            "at_most",
        ),
        target(
            "instances within 1% of the MILP optimum",
            f.within_1pct_share,
            WITHIN_SHARE_TARGET,
            "share",
            "at_least",
        ),
        target(
            "cannot fulfill while a plan exists",
            f.cannot_fulfil_when_feasible,
            0,
            "instances",
            "equal",
        ),
    ]


def _latency_table(r: Report) -> str:
    rows = [
        [
            f"{s.lines} x {s.candidates}",
            f"{s.replica.latency_us_p50:.0f}",
            f"{s.replica.latency_us_p99:.0f}",
            f"{s.redis.latency_us_p50:.0f}",
            f"{s.redis.latency_us_p99:.0f}",
            f"{s.redis_over_replica_p50:.2f} / {s.redis_over_replica_p99:.2f}",
            f"{s.replica_best.latency_us_p50:.0f}",
            f"{s.replica_best.latency_us_p99:.0f}",
            f"{s.pure.latency_us_p50:.0f}",
            f"{s.pure.latency_us_p99:.0f}",
            f"{s.shipments_mean:.2f}",
            f"{s.proven_optimal_share:.3f}",
        ]
        for s in r.scenarios
    ]
    latency = format_table(
        [
            "lines x candidates",
            "replica p50 us",
            "replica p99 us",
            "Redis p50 us",
            "Redis p99 us",
            "Redis / replica p50 / p99",
            "replica best-of-3 p50 us",
            "replica best-of-3 p99 us",
            "plan() p50 us",
            "plan() p99 us",
            "shipments",
            "proven",
        ],
        rows,
        markdown=True,
    )
    return latency


def _optimality_table(f: Figures) -> str:
    return format_table(
        [
            "instances",
            "feasible",
            "within 1%",
            "share",
            "worst gap",
            "cannot fulfill when feasible",
            "proven optimal",
            "plan max ms",
            "MILP total s",
        ],
        [
            [
                str(f.instances),
                str(f.feasible),
                str(f.within_1pct),
                f"{f.within_1pct_share:.4f}",
                f"{f.worst_gap:.2e}",
                str(f.cannot_fulfil_when_feasible),
                str(f.proven_optimal),
                f"{f.plan_ms_max:.0f}",
                f"{f.milp_ms_total / 1000:.1f}",
            ]
        ],
        markdown=True,
    )


def markdown(r: Report) -> str:
    """The section of bench/out/routing-results.md: the run, plan latency, optimality."""
    goals = format_table(
        ["target", "measured", "limit", "met"],
        [
            [t.name, f"{t.measured:g} {t.unit}", f"{t.bound} {t.limit:g}", "yes" if t.met else "NO"]
            for t in r.targets
        ],
        markdown=True,
    )
    m, cpu = r.machine, r.cpu_use
    packages = ", ".join(f"{k} {v}" for k, v in m.packages.items())
    header = (
        f"`{r.command}` on {r.date}, {r.duration_s} s. {m.cpus} CPUs ({m.cpu_model}), "
        f"Python {m.python}, Redis {m.redis_server}; {packages}. Load average at start "
        f"{r.load_average_start}; core shares during the run: this process "
        f"{cpu.own_core_share}, Redis {cpu.redis_core_share}, others {cpu.others_core_share}."
    )
    return "\n\n".join(
        [
            header,
            "Plan latency, one caller, default policy; replica / Redis = plan_order (directory "
            "+ availability fetch + plan) on an engine reading its in-memory replica / reading "
            "Redis, alternated order by order in the same run; best-of-3 = each order's "
            "fastest of 3 replica runs (the order's cost without a neighbour's interference "
            "on this shared box, not a latency a caller sees); plan() = the pure core alone "
            "on the same candidates:",
            _latency_table(r),
            "Optimality against `scipy.optimize.milp` (HiGHS) on seeded random instances "
            "(1-20 lines, 10-200 candidates, varied policies):",
            _optimality_table(r.optimality),
            goals,
        ]
    )
