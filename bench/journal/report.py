"""The journal benchmark's sizes, figures and its bench/RESULTS.md section."""

import msgspec

from bench.common.machine import Machine
from bench.common.stats import Target, format_table

WRITERS = 2  # journal consumers


class Sizes(msgspec.Struct, frozen=True):
    events: int
    commits: int
    rebuild_positions: int


QUICK = Sizes(events=40_000, commits=2_000, rebuild_positions=100_000)
FULL = Sizes(events=300_000, commits=10_000, rebuild_positions=1_000_000)


class Report(msgspec.Struct):
    mode: str
    sizes: Sizes
    machine: Machine
    load_average_before: tuple[float, float, float]
    journal_events_per_s: float = 0.0
    journal_batch_max: int = 0
    commit_latency_ms_p50: float = 0.0
    commit_latency_ms_p99: float = 0.0
    commit_engine_ms_p50: float = 0.0  # the commit before its durability wait
    commit_engine_ms_p99: float = 0.0
    durability_wait_ms_p50: float = 0.0
    durability_wait_ms_p99: float = 0.0
    durability_events_per_flush: float = 0.0
    durability_flush_read_ms_mean: float = 0.0
    durability_flush_write_ms_mean: float = 0.0
    commits_per_s_achieved: float = 0.0
    # The same commits paced at 5k/s: what a commit costs there (issue 12).
    fast_commits_per_s_achieved: float = 0.0
    fast_commit_latency_ms_p50: float = 0.0
    fast_commit_latency_ms_p99: float = 0.0
    fast_durability_wait_ms_p50: float = 0.0
    fast_durability_wait_ms_p99: float = 0.0
    fast_durability_events_per_flush: float = 0.0
    pg_commit_ms_p50: float = 0.0
    pg_commit_ms_p99: float = 0.0
    rebuild_s: float = 0.0
    rebuild_positions_per_s: float = 0.0
    others_core_share: float = 0.0
    targets: list[Target] = []


def render(report: Report) -> str:
    rows = [
        ["PostgreSQL one-row write + commit, p50 / p99",
         f"{report.pg_commit_ms_p50} / {report.pg_commit_ms_p99} ms",
         "the floor under a group commit"],
        ["journal writer, backlog drain", f"{report.journal_events_per_s:,.0f} events/s",
         f"{WRITERS} consumers, batches up to {report.journal_batch_max} events"],
        ["commit at ~1k/s, total p50 / p99",
         f"{report.commit_latency_ms_p50} / {report.commit_latency_ms_p99} ms",
         f"achieved {report.commits_per_s_achieved:,}/s"],
        ["of which the engine's commit, p50 / p99",
         f"{report.commit_engine_ms_p50} / {report.commit_engine_ms_p99} ms",
         "Lua scripts and reads, same run"],
        ["of which the durability wait, p50 / p99",
         f"{report.durability_wait_ms_p50} / {report.durability_wait_ms_p99} ms",
         f"{report.durability_events_per_flush} events per group commit"],
        ["commit at ~5k/s, total p50 / p99",
         f"{report.fast_commit_latency_ms_p50} / {report.fast_commit_latency_ms_p99} ms",
         f"achieved {report.fast_commits_per_s_achieved:,}/s"],
        ["of which the durability wait at ~5k/s, p50 / p99",
         f"{report.fast_durability_wait_ms_p50} / {report.fast_durability_wait_ms_p99} ms",
         f"{report.fast_durability_events_per_flush} events per group commit"],
        ["one group commit: stream reads / PostgreSQL write, mean",
         f"{report.durability_flush_read_ms_mean} / {report.durability_flush_write_ms_mean} ms",
         "a flush = both"],
        [f"rebuild {report.sizes.rebuild_positions:,} positions", f"{report.rebuild_s} s",
         f"{report.rebuild_positions_per_s:,} positions/s"],
    ]  # fmt: skip
    table = format_table(["figure", "measured", "note"], rows, markdown=True)
    checks = "\n".join(
        f"- {t.name}: {t.measured} {t.unit} ({t.bound.replace('_', ' ')} {t.limit}):"
        f" {'met' if t.met else 'NOT met'}"
        for t in report.targets
    )
    m = report.machine
    context = (
        f"Mode {report.mode} ({report.sizes.events:,} events, {report.sizes.commits:,} commits)."
        f" {m.cpus} CPUs, {m.cpu_model}, Python {m.python}, Redis {m.redis_server},"
        f" load average before {report.load_average_before[0]:.2f};"
        f" other processes used {report.others_core_share:.2f} of a core during the run."
    )
    return f"{context}\n\n{table}\n\n{checks}\n"
