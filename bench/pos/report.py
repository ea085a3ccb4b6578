"""The POS benchmark's runs and its bench/RESULTS.md section."""

import msgspec

BEFORE_COMMIT = "179807e"
BATCHES = (1, 20)
THREADS = 2  # wrk threads: one register each


class Run(msgspec.Struct, frozen=True):
    server: str  # now | before
    batch: int
    connections: int
    requests_per_s: float
    events_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    errors: int
    worker_core_share: float
    rounds_requests_per_s: list[float]


class Report(msgspec.Struct, frozen=True):
    started_at: str
    command: str
    mode: str
    duration_s: float
    rounds: int
    connections: int
    runs: list[Run]
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float]
    others_core_share: float  # CPU of every process but this one and its servers' workers
    busy: list[str]
    machine: object


def markdown(report: Report) -> str:
    by = {(r.server, r.batch): r for r in report.runs}
    lines = [
        f"Run {report.started_at}: `{report.command}` (mode {report.mode}). "
        f"`POST /v1/pos/{{device}}/events`, sales with unique event ids, each wrk thread "
        f"its own register; wrk {THREADS} threads, {report.connections} connections, "
        f"{report.duration_s:g} s per step, {report.rounds} rounds after a warm-up round, "
        "steps interleaved, median round; one `atp serve` worker per server, both up "
        "together; auth on, rate limit off. *now*: this tree, acknowledged once the events "
        "are in PostgreSQL (group commit; Redis db 5, database atp_bench_pos). *before*: "
        f"commit {BEFORE_COMMIT} (the route before issue 10: acknowledged from Redis alone; "
        "served from a `git worktree` with the same venv, ATP_ENV=development, no "
        "PostgreSQL, its key in Redis db 6). Same Redis server, same PostgreSQL server.",
        "",
        "| batch | server | req/s | events/s | p50 ms | p99 ms | errors | worker CPU "
        "| rounds req/s |",
        "|--:|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for batch in BATCHES:
        for server in ("before", "now"):
            r = by[(server, batch)]
            rounds = ", ".join(f"{x:,.0f}" for x in r.rounds_requests_per_s)
            lines.append(
                f"| {batch} | {server} | {r.requests_per_s:,.0f} | {r.events_per_s:,.0f} | "
                f"{r.latency_ms_p50:.2f} | {r.latency_ms_p99:.2f} | {r.errors} | "
                f"{r.worker_core_share} | {rounds} |"
            )
    lines += ["", "| batch | now / before req/s | now / before p99 |", "|--:|--:|--:|"]
    for batch in BATCHES:
        now, before = by[("now", batch)], by[("before", batch)]
        rate = now.requests_per_s / before.requests_per_s
        tail = now.latency_ms_p99 / before.latency_ms_p99
        lines.append(f"| {batch} | {rate:.2f}x | {tail:.2f}x |")
    la0 = " ".join(f"{x:.2f}" for x in report.load_average_start)
    la1 = " ".join(f"{x:.2f}" for x in report.load_average_end)
    lines += [
        "",
        f"Load average at start / end: {la0} / {la1}; CPU of other processes during the "
        f"steps (besides this process, Redis and the two workers, so wrk and PostgreSQL "
        f"included): {report.others_core_share} of a core; busiest: {', '.join(report.busy)}.",
    ]
    return "\n".join(lines)
