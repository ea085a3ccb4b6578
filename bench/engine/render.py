"""The engine benchmark's report as text (stdout) and as its bench/RESULTS.md section."""

from bench.engine.report import Measured, Report, hot_table, operations_table, targets_table

SECTION_TITLE = "Engine micro-benchmark (python -m bench.engine)"

# Other processes using more than this share of a core make a run provisional.
QUIET_OTHERS_CORE_SHARE_MAX = 0.1


def _busy_text(report: Report) -> str:
    cpu = report.cpu_use
    named = ", ".join(
        f"{p.command} (pid {p.pid}{', the Redis under test' if p.pid == report.redis_pid else ''})"
        f" {p.core_share:.0%}"
        for p in cpu.busy_processes
    )
    return (
        f"this process {cpu.own_core_share:.0%} of a core, the Redis under test "
        f"{cpu.redis_core_share:.0%}, everything else {cpu.others_core_share:.0%}"
        + (f"; busiest processes: {named}" if named else "")
    )


def _header_lines(report: Report) -> list[str]:
    m = report.machine
    packages = ", ".join(f"{k} {v}" for k, v in m.packages.items())
    load = " / ".join(
        " ".join(f"{x:.2f}" for x in la)
        for la in (report.load_average_start, report.load_average_end)
    )
    return [
        f"- Date: {report.date}",
        f"- Command: `{report.command}` ({report.mode} mode, {report.duration_s:.0f} s in all)",
        f"- Machine: {m.cpus} CPUs (nproc), {m.cpu_model}, Linux {m.kernel}",
        f"- Redis {m.redis_server} (local, loopback); Python {m.python}; {packages}",
        f"- Load average (1/5/15 min) at start / end: {load}",
        f"- CPU during the run: {_busy_text(report)}",
        *(f"- Note: {n}" for n in report.notes),
    ]


def markdown_section(report: Report, measured: list[Measured]) -> str:
    lines = []
    if report.cpu_use.others_core_share > QUIET_OTHERS_CORE_SHARE_MAX:
        lines += [
            "**Provisional:** other processes were running during this run (see *CPU during "
            "the run*), so absolute figures are low and noisy; the ratios, measured interleaved "
            "in one process, and the CPU per call are the figures to read. To be re-run on a "
            "quiet machine.",
            "",
        ]
    lines += _header_lines(report)
    lines += [
        "",
        "Each operation runs closed-loop from 1 and from 16 asyncio tasks in one process "
        "(uvloop, `gc.freeze()` after setup, warm-up discarded, every call timed with "
        "`perf_counter_ns`). Baselines are the standard `redis.asyncio.Redis` client (hiredis "
        "parser): `HGET` of a position field, `EVALSHA` of `return 1`. *transport* rows are the "
        "engine's own `PipelinedRedis` doing the same raw commands, to separate transport cost "
        "from engine cost. Ratios: latency = op p50 / baseline p50 at 1 caller; throughput = "
        "op ops/s / baseline ops/s at 16 callers. Reservations are online-channel, one unit per "
        "line, each line in a different partition (one leg each). *cpu us/call* is this "
        "process's CPU time (user + system, so including the kernel's socket work) over the "
        "calls: it moves far less with noisy neighbours than latency does. *redis cpu us/call* "
        "is the Redis main thread's CPU over the same calls (from `INFO cpu`; other clients of "
        "a shared Redis count too).",
        "",
        "### Operations",
        "",
        operations_table(measured, markdown=True),
        "",
        "### Targets",
        "",
        targets_table(report.targets, markdown=True),
        "",
        "### Hot SKU contention",
        "",
        hot_table(report.hot_sku, markdown=True),
    ]
    if report.hot_sku.failures:
        lines += ["", "Failures:", *(f"- {f}" for f in report.hot_sku.failures)]
    return "\n".join(lines) + "\n"


def text(report: Report, measured: list[Measured]) -> str:
    parts = [
        "\n".join(line.removeprefix("- ") for line in _header_lines(report)),
        operations_table(measured, markdown=False),
        targets_table(report.targets, markdown=False),
        hot_table(report.hot_sku, markdown=False),
    ]
    parts += [f"FAILURE: {f}" for f in report.hot_sku.failures]
    return "\n\n".join(parts) + "\n"
