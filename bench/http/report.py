"""The HTTP benchmark's runs, figures, targets and its bench/RESULTS.md section."""

import msgspec

from bench.common.stats import Figure, Target, target

RESERVE_RATIO_MIN = 0.70
RESERVE_P99_MS_MAX = 10.0
BASELINE_P99_MS_FOR_TARGET = 5.0


class Run(msgspec.Struct, frozen=True):
    app: str  # api | baseline
    route: str
    workers: int
    connections: int
    requests_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    errors: int  # non-2xx responses and socket errors
    worker_core_shares: list[float]  # CPU of each worker over the run: balance check


class Report(msgspec.Struct, frozen=True):
    started_at: str
    mode: str
    duration_s: float
    connections: int
    runs: list[Run]
    figures: list[Figure]
    targets: list[Target]
    machine: object
    locust: dict[str, object] | None = None


def figures_and_targets(runs: list[Run], low: int) -> tuple[list[Figure], list[Target]]:
    figures, targets = [], []
    for workers in sorted({r.workers for r in runs}):
        by = {r.route: r for r in runs if r.workers == workers}
        for r in by.values():
            base_route = "POST /baseline/evalsha" + (
                f" @{low}" if r.route.endswith(f"@{low}") else ""
            )
            base = by[base_route]
            ratio = round(r.requests_per_s / base.requests_per_s, 3)
            name = f"w{workers} {r.route}"
            figures.append(
                Figure(
                    f"{name} requests/s",
                    round(r.requests_per_s),
                    "req/s",
                    ratio,
                    f"w{workers} {base_route}",
                )
            )
            figures.append(Figure(f"{name} p99", r.latency_ms_p99, "ms"))
        base, hold = by["POST /baseline/evalsha"], by["POST /v1/reservations"]
        ratio = round(hold.requests_per_s / base.requests_per_s, 3)
        targets.append(
            target(
                f"w{workers} reservations / EVALSHA baseline requests/s",
                ratio,
                RESERVE_RATIO_MIN,
                "ratio",
                "at_least",
            )
        )
        for suffix in ("", f" @{low}"):
            base, hold = by[f"POST /baseline/evalsha{suffix}"], by[f"POST /v1/reservations{suffix}"]
            if base.latency_ms_p99 < BASELINE_P99_MS_FOR_TARGET:
                name = f"w{workers} reservations p99 at {hold.connections} connections"
                name += f" (baseline p99 {base.latency_ms_p99} ms)"
                targets.append(
                    target(name, hold.latency_ms_p99, RESERVE_P99_MS_MAX, "ms", "at_most")
                )
    return figures, targets


def markdown(report: Report) -> str:
    lines = [
        f"Run {report.started_at}, mode {report.mode}: wrk {report.connections} connections, "
        f"{report.duration_s:g} s per route per round, median of the rounds after a warm-up; "
        "API and baseline servers up together, routes interleaved; servers via `cli.supervisor` "
        "(single-worker processes, SO_REUSEPORT); auth on, rate limit off; Redis db 13.",
        "",
        "| app | workers | conns | route | req/s | x EVALSHA | p50 ms | p99 ms | errors | CPU |",
        "|---|--:|--:|---|--:|--:|--:|--:|--:|---|",
    ]
    ratios = {
        f.name.removesuffix(" requests/s"): f.ratio_to_baseline
        for f in report.figures
        if f.ratio_to_baseline is not None
    }
    for r in report.runs:
        ratio = ratios.get(f"w{r.workers} {r.route}") or 0.0
        cells = [r.app, str(r.workers), str(r.connections), f"`{r.route}`"]
        cells += [f"{r.requests_per_s:,.0f}", f"{ratio:.2f}"]
        cells += [f"{r.latency_ms_p50:.2f}", f"{r.latency_ms_p99:.2f}", str(r.errors)]
        lines.append("| " + " | ".join([*cells, str(r.worker_core_shares)]) + " |")
    lines += ["", "| target | measured | limit | met |", "|---|--:|--:|---|"]
    for t in report.targets:
        met = "yes" if t.met else "NO"
        lines.append(f"| {t.name} | {t.measured} | {t.bound} {t.limit} {t.unit} | {met} |")
    if report.locust:
        loc = report.locust
        lines += [
            "",
            f"Locust mix (bench/http/locustfile.py): {loc['users']} users, {loc['seconds']} s, "
            f"{loc['workers']} workers, CSV `{loc['csv']}`:",
            "",
            "| request | count | failures | req/s | p50 ms | p99 ms |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for name, row in loc["rows"].items():  # type: ignore[attr-defined]
            cells = [name, row["requests"], row["failures"], row["requests_per_s"]]
            cells += [row["latency_ms_p50"], row["latency_ms_p99"]]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
