"""bench.script's figures, targets and its bench/RESULTS.md section."""

import statistics
from collections.abc import Sequence

import msgspec

from bench.common.machine import CpuUse, Machine
from bench.common.stats import Target, format_table, target
from bench.script.pipes import Phase
from bench.script.probes import Probe

RESERVE_3_USEC_MAX = 60.0
RESERVE_3_TO_MINIMAL_MAX = 1.15
MINIMAL = "minimal 3 lines"
RESERVE_3 = "reserve_atomic 3 lines, 3 partitions"


class Row(msgspec.Struct, frozen=True):
    name: str
    scripts_per_operation: int
    usec_per_script: float  # median round
    usec_per_script_rounds: list[float]
    usec_per_operation: float
    inner_calls_per_script: float
    inner_usec_per_script: float
    redis_cpu_us_per_script: float
    operations_per_s: float  # median round
    inner: dict[str, list[float]]  # of the median round
    x_minimal: float = 0.0  # usec per operation / the minimal script's


class Report(msgspec.Struct, frozen=True):
    started_at: str
    command: str
    mode: str
    seconds: float
    calls: int
    clients: int
    rounds: int
    redis_server: str
    rows: list[Row]
    probes: list[Probe]
    targets: list[Target]
    machine: Machine
    cpu: CpuUse
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]


def row(name: str, per_operation: int, phases: Sequence[Phase]) -> Row:
    ordered = sorted(phases, key=lambda p: p.usec_per_script)
    mid = ordered[len(ordered) // 2]
    rate = statistics.median(p.scripts_per_s for p in phases)
    return Row(
        name=name,
        scripts_per_operation=per_operation,
        usec_per_script=round(mid.usec_per_script, 2),
        usec_per_script_rounds=[round(p.usec_per_script, 2) for p in phases],
        usec_per_operation=round(mid.usec_per_script * per_operation, 2),
        inner_calls_per_script=mid.inner_calls_per_script,
        inner_usec_per_script=round(mid.inner_usec_per_script, 2),
        redis_cpu_us_per_script=round(mid.redis_cpu_us_per_script, 2),
        operations_per_s=round(rate / per_operation),
        inner=mid.inner,
    )


def with_ratios(rows: list[Row]) -> list[Row]:
    base = next(r for r in rows if r.name == MINIMAL).usec_per_operation
    return [
        msgspec.structs.replace(r, x_minimal=round(r.usec_per_operation / base, 2)) for r in rows
    ]


def targets(rows: list[Row]) -> list[Target]:
    by = {r.name: r for r in rows}
    reserve = by[RESERVE_3]
    return [
        target(f"{RESERVE_3}: Redis usec per call", reserve.usec_per_script,
               RESERVE_3_USEC_MAX, "us", "at_most"),
        target(f"{RESERVE_3} / {MINIMAL}, Redis usec per call (same run)", reserve.x_minimal,
               RESERVE_3_TO_MINIMAL_MAX, "ratio", "at_most"),
    ]  # fmt: skip


def _rows_table(rows: list[Row]) -> str:
    headers = ["script(s) per operation", "scripts/op", "Redis us/call", "rounds",
               "us/op", "x minimal", "redis.calls/call", "in calls us", "Lua + args us",
               "redis CPU us/call", "ops/s"]  # fmt: skip
    cells = [
        [f"`{r.name}`", str(r.scripts_per_operation), f"{r.usec_per_script:.1f}",
         " / ".join(f"{u:.1f}" for u in r.usec_per_script_rounds), f"{r.usec_per_operation:.1f}",
         f"{r.x_minimal:.2f}", f"{r.inner_calls_per_script:g}", f"{r.inner_usec_per_script:.1f}",
         f"{r.usec_per_script - r.inner_usec_per_script:.1f}", f"{r.redis_cpu_us_per_script:.1f}",
         f"{r.operations_per_s:,.0f}"]
        for r in rows
    ]  # fmt: skip
    return format_table(headers, cells, markdown=True)


def _inner_table(rows: list[Row]) -> str:
    lines = ["| script(s) | redis.calls per call: command calls x (usec) |", "|---|---|"]
    for r in rows:
        parts = [f"{name} {c:g} x ({u:.1f})" for name, (c, u) in r.inner.items()]
        lines.append(f"| `{r.name}` | {', '.join(parts)} |")
    return "\n".join(lines)


def _probes_table(probes: list[Probe]) -> str:
    headers = ["probe", "commands per script", "Redis us per command (empty loop subtracted)",
               "command's own us (commandstats)", "scripts/s"]  # fmt: skip
    cells = [
        [p.name, str(p.per_script), f"{p.usec_per_command:.2f}",
         f"{p.inner_usec_per_command:.2f}", f"{p.scripts_per_s:,.0f}"]
        for p in probes
    ]  # fmt: skip
    return format_table(headers, cells, markdown=True)


def markdown(report: Report) -> str:
    m, cpu = report.machine, report.cpu
    busy = ", ".join(f"{p.command} {p.core_share}" for p in cpu.busy_processes[:5])
    head = (
        f"Run {report.started_at}: `{report.command}` ({report.mode}, {report.seconds:.0f} s). "
        f"A private `{report.redis_server}` (no persistence), db 11. Each phase: "
        f"{report.calls:,} operations with unique reservation ids, packed ahead of time "
        f"from the engine's own functions (a recording transport in place of Redis) and sent "
        f"by {report.clients} concurrent `redis-cli --pipe` clients; Redis time from `INFO "
        "commandstats` after `CONFIG RESETSTAT` (EVALSHA `usec_per_call`: the whole script; "
        "a script's `redis.call`s are counted under their own names); median of "
        f"{report.rounds} round(s), phases in the same order each round. {m.cpus} CPUs "
        f"({m.cpu_model}), Python {m.python}. Load average at start / end: "
        f"{' '.join(f'{x:.2f}' for x in report.load_start)} / "
        f"{' '.join(f'{x:.2f}' for x in report.load_end)}; core shares over the run: this "
        f"process {cpu.own_core_share}, the private Redis {cpu.redis_core_share}, others "
        f"{cpu.others_core_share} (busiest: {busy})."
    )
    tail = ["| target | measured | limit | met |", "|---|--:|--:|---|"]
    for t in report.targets:
        tail.append(
            f"| {t.name} | {t.measured} | {t.bound} {t.limit} {t.unit} | "
            f"{'yes' if t.met else 'NO'} |"
        )
    return "\n\n".join(
        [head, _rows_table(report.rows), _inner_table(report.rows),
         _probes_table(report.probes), "\n".join(tail)]
    )  # fmt: skip
