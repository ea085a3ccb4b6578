"""bench.hold's figures: per step its passes and samples, the breakdown in us per request,
and its bench/RESULTS.md section."""

import statistics

import msgspec

from bench.common.machine import CpuUse, Machine
from bench.common.stats import format_table
from bench.hold import stages
from bench.hold.load import Pass
from bench.hold.positions import PositionsCost
from bench.hold.profile import Samples, top

TOP_FUNCTIONS = 10


class Step(msgspec.Struct):
    name: str
    server: str
    profiled: bool
    passes: list[Pass] = msgspec.field(default_factory=list)
    sampled_passes: list[Pass] = msgspec.field(default_factory=list)
    samples: Samples = msgspec.field(default_factory=Samples)

    @property
    def cpu_us(self) -> float:
        return statistics.median(p.worker_cpu_us_per_request for p in self.passes)

    def median(self) -> Pass:
        return sorted(self.passes, key=lambda p: p.worker_cpu_us_per_request)[len(self.passes) // 2]

    def us(self, count: int) -> float:
        """A sample count as us per request: its share of the busy samples times the
        worker's CPU per request measured without the sampler."""
        return self.cpu_us * count / max(self.samples.busy, 1)


class Report(msgspec.Struct, frozen=True):
    started_at: str
    command: str
    mode: str
    seconds: float
    connections: int
    duration_s: float
    profile_s: float
    rate_hz: int
    rounds: int
    steps: list[Step]
    access_log_bytes_per_line: float
    positions: PositionsCost
    machine: Machine
    cpu: CpuUse
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]


def _passes_table(report: Report) -> str:
    baseline = report.steps[-1].cpu_us
    headers = ["step", "server", "req/s", "p50 ms", "p99 ms", "errors", "worker CPU us/req",
               "rounds", "x baseline", "system share", "worker cores", "Redis CPU us/req",
               "sampled: req/s", "sampled: us/req"]  # fmt: skip
    rows = []
    for s in report.steps:
        m = s.median()
        sampled = s.sampled_passes
        rows.append(
            [s.name, s.server, f"{m.requests_per_s:,.0f}", f"{m.latency_ms_p50:.2f}",
             f"{m.latency_ms_p99:.2f}", str(sum(p.errors for p in s.passes)), f"{s.cpu_us:.0f}",
             " / ".join(f"{p.worker_cpu_us_per_request:.0f}" for p in s.passes),
             f"{s.cpu_us / baseline:.2f}", f"{m.worker_system_share:.2f}",
             f"{m.worker_core_share:.2f}", f"{m.redis_cpu_us_per_request:.0f}",
             f"{statistics.median(p.requests_per_s for p in sampled):,.0f}" if sampled else "",
             f"{statistics.median(p.worker_cpu_us_per_request for p in sampled):.0f}"
             if sampled else ""]
        )  # fmt: skip
    return format_table(headers, rows, markdown=True)


def _breakdown_table(report: Report) -> str:
    steps = [s for s in report.steps if s.profiled and s.samples.busy]
    used = [st for st in stages.ORDER if any(s.samples.by_stage.get(st) for s in steps)]
    headers = ["stage", *(f"{s.name}: us/req" for s in steps), f"{steps[0].name}: share",
               f"{steps[0].name}: of it in socket writes, us"]  # fmt: skip
    rows = []
    for st in used:
        first = steps[0].samples
        rows.append(
            [st, *(f"{s.us(s.samples.by_stage.get(st, 0)):.1f}" for s in steps),
             f"{first.by_stage.get(st, 0) / first.busy:.1%}",
             f"{steps[0].us(first.writing.get(st, 0)):.1f}"]
        )  # fmt: skip
    rows.append(["**total (worker CPU per request)**", *(f"{s.cpu_us:.0f}" for s in steps), "", ""])
    return format_table(headers, rows, markdown=True)


def _top_table(step: Step) -> str:
    headers = ["#", "function (file), innermost Python frame", "stage", "us/req", "share"]
    rows = [
        [str(i), f"`{name}`", step.samples.function_stage[name], f"{step.us(count):.1f}",
         f"{count / step.samples.busy:.1%}"]
        for i, (name, count) in enumerate(top(step.samples.by_function, TOP_FUNCTIONS), 1)
    ]  # fmt: skip
    return format_table(headers, rows, markdown=True)


def _commands(step: Step) -> str:
    m = step.median()
    return ", ".join(f"{name} {n:g}" for name, n in m.redis_commands_per_request.items() if n)


def markdown(report: Report) -> str:
    m, cpu = report.machine, report.cpu
    busy = ", ".join(f"{p.command} {p.core_share}" for p in cpu.busy_processes[:6])
    samples = [s for s in report.steps if s.profiled and s.samples.busy]
    coverage = "; ".join(
        f"{s.name}: {s.samples.busy:,} busy samples, {s.samples.idle:,} in epoll" for s in samples
    )
    head = (
        f"Run {report.started_at}: `{report.command}` ({report.mode}, {report.seconds:.0f} s). "
        "One `cli.supervisor` worker per server (as `atp serve` and bench/http run them), "
        "durable engine (PostgreSQL group commit before every write's answer), auth on, rate "
        "limit on (1M/s: checked, never refusing), a private redis-server; `api` and `api-log` "
        "(access log on, lines to a file) each with its own Redis and PostgreSQL database. wrk "
        f"{report.connections} connections, 1-line holds with unique ids; {report.duration_s:g} "
        f"s per step per round, {report.rounds} round(s), steps interleaved, median round; "
        "worker CPU = /proc/PID/stat user + system over the run / requests. Then a sampled pass "
        f"per hold step ({report.profile_s:g} s): py-spy --native at {report.rate_hz} Hz "
        "(blocking), samples in epoll left out, each stage's share of the rest times the "
        f"unsampled CPU per request. {coverage}. {m.cpus} CPUs ({m.cpu_model}), Python "
        f"{m.python}, {m.redis_server}. Load average at start / end: "
        f"{' '.join(f'{x:.2f}' for x in report.load_start)} / "
        f"{' '.join(f'{x:.2f}' for x in report.load_end)}; core shares over the run: this "
        f"process {cpu.own_core_share}, the private Redis {cpu.redis_core_share}, others "
        f"{cpu.others_core_share} (busiest: {busy})."
    )
    commands = "\n".join(
        f"- {s.name}: {_commands(s)}" for s in report.steps if s.median().redis_commands_per_request
    )
    parts = [head, _passes_table(report), "Breakdown, us of worker CPU per request:",
             _breakdown_table(report)]  # fmt: skip
    if samples:
        parts += [f"Top {TOP_FUNCTIONS} by own time ({samples[0].name}):", _top_table(samples[0])]
    parts += [
        "Redis commands per request (INFO commandstats of the private server; a script's "
        "redis.calls counted under their own names; background tasks of all three servers "
        f"included):\n\n{commands}",
        f"Access log: {report.access_log_bytes_per_line:.0f} bytes a line.",
        "The position in a 1-line hold's answer, timed in the benchmark's process "
        "(bench/hold/positions.py: `ReservationOut.of` + `json_response`, best of 5 x 20,000): "
        f"{report.positions.answer_us:.2f} us with it, {report.positions.answer_without_us:.2f} "
        f"us without: {report.positions.positions_us:.2f} us and "
        f"{report.positions.body_bytes - report.positions.body_bytes_without} bytes "
        f"({report.positions.body_bytes} vs {report.positions.body_bytes_without}) per line, on "
        "top of the sampled stage's decoding and `_positions_after`.",
    ]
    return "\n\n".join(parts)
