"""The lag part of bench/replica/__main__.py as figures, targets and text."""

from __future__ import annotations

from bench.common.stats import Figure, Target, format_table, target
from bench.replica.lag import LagResult

# The offered load counts as reached when this share of it was answered in the window.
RATE_REACHED_SHARE = 0.99
LAG_P99_MS_MAX = 20


INJECTED = "[events injected] "


# Figures of the writers' calls, which injected events do not make.
_CALL_FIGURES = ("settles", "holds", "write errors", "writer start", "hold call")


def chosen(lags: list[LagResult]) -> list[LagResult]:
    """Of several rounds under reservations, the one others used the least CPU in (chosen
    on the neighbours' load, not on the lag), then the injected-events run."""
    rounds = [lag for lag in lags if lag.load == "reservations"]
    quietest = [min(rounds, key=lambda lag: lag.others_core_share)] if rounds else []
    return quietest + [lag for lag in lags if lag.load != "reservations"]


def rounds_table(lags: list[LagResult], markdown: bool) -> str:
    rounds = [lag for lag in lags if lag.load == "reservations"]
    if len(rounds) < 2:
        return ""
    pick = chosen(lags)[0]
    rows = [
        (
            str(n),
            f"{lag.others_core_share:.2f}",
            f"{lag.load_average_end[0]:.2f}",
            f"{lag.holds_per_s:,.0f}",
            f"{lag.events:,}",
            f"{lag.lag_ms_p50:,.1f}",
            f"{lag.lag_ms_p99:,.1f}",
            f"{lag.lag_ms_max:,.1f}",
            "reported" if lag is pick else "",
        )
        for n, lag in enumerate(rounds, start=1)
    ]
    headers = ("round", "others' cores", "load avg", "holds/s", "events", "p50", "p99", "max", "")
    text = format_table(headers, rows, markdown)
    return "Rounds under reservations (lag in ms):\n\n" + text


def figures(lags: list[LagResult]) -> list[Figure]:
    out = []
    for lag in chosen(lags):
        if lag.load == "events":
            out += [
                Figure(INJECTED + f.name, f.value, f.unit)
                for f in _figures(lag)
                if not f.name.startswith(_CALL_FIGURES)
            ]
        else:
            out += _figures(lag)
    return out


def _figures(lag: LagResult) -> list[Figure]:
    return [
        Figure("write load offered", lag.rate_target_per_s, "reservations/s"),
        Figure("writer processes", lag.writers, "processes"),
        Figure("write load achieved", lag.holds_per_s, "reservations/s"),
        Figure("settles (release/commit/fulfill)", lag.settles_per_s, "calls/s"),
        Figure("holds refused (stock, conflict)", lag.holds_refused, "holds"),
        Figure("write errors", lag.write_errors, "calls"),
        Figure("holds not sent (writer overloaded)", lag.holds_skipped, "holds"),
        Figure("writer start lateness p99", lag.writer_late_ms_p99, "ms"),
        Figure("hold call p50 (median writer)", lag.hold_ms_p50, "ms"),
        Figure("hold call p99 (worst writer)", lag.hold_ms_p99, "ms"),
        Figure("events applied in the window", lag.events, "events"),
        Figure("events applied", lag.events_per_s, "events/s"),
        Figure("XREAD replies with entries", lag.reads_per_s, "replies/s"),
        Figure("largest reply (applied in one go)", lag.reply_entries_max, "entries"),
        Figure("replica lag p50", lag.lag_ms_p50, "ms"),
        Figure("replica lag p95", lag.lag_ms_p95, "ms"),
        Figure("replica lag p99", lag.lag_ms_p99, "ms"),
        Figure("replica lag max", lag.lag_ms_max, "ms"),
        Figure("stream id -> reply in hand p99", lag.lag_to_arrival_ms_p99, "ms"),
        Figure("reply in hand -> applied p99", lag.apply_ms_p99, "ms"),
        Figure("replica process CPU", lag.replica_core_share, "cores"),
        Figure("writer processes CPU", lag.writers_core_share, "cores"),
        Figure("Redis CPU (all its clients)", lag.redis_core_share, "cores"),
        Figure("others' CPU (not this benchmark)", lag.others_core_share, "cores"),
        Figure("Redis waiting for a CPU", lag.redis_run_queue_wait, "s/s"),
        Figure("replica waiting for a CPU", lag.replica_run_queue_wait, "s/s"),
        Figure("writers waiting for a CPU (sum)", lag.writers_run_queue_wait, "s/s"),
        Figure("load average (1 min) at window end", lag.load_average_end[0], ""),
    ]


def targets(lags: list[LagResult]) -> list[Target]:
    out = []
    for lag in chosen(lags):
        if lag.load == "events":  # the replica alone: not the target, shown beside it
            name = f"{INJECTED}replica lag p99"
            out.append(target(name, lag.lag_ms_p99, LAG_P99_MS_MAX, "ms", "at_most"))
        else:
            out += _targets(lag)
    return out


def _targets(lag: LagResult) -> list[Target]:
    return [
        target(
            "write load reached (>= 99% of offered)",
            lag.holds_per_s,
            round(lag.rate_target_per_s * RATE_REACHED_SHARE),
            "reservations/s",
            "at_least",
        ),
        target("replica lag p99", lag.lag_ms_p99, LAG_P99_MS_MAX, "ms", "at_most"),
    ]


def costs_table(lag: LagResult, markdown: bool) -> str:
    c = lag.costs
    if c is None:
        return ""
    rows = [
        ("fields dict: dict(zip(flat[::2], flat[1::2]))", c.fields_dict_ns),
        ("fields dict: dict(zip(it, it))", c.fields_dict_iter_ns),
        ("parse_id() for the lag sample", c.stream_id_ns),
        ("PackedPositions.set_position", c.set_position_ns),
        ("one entry + bookkeeping (dict given)", c.apply_ns),
        ("current _read_once loop, per entry", c.current_ns),
        ("proposed loop, per entry", c.proposed_ns),
        ("per XREAD: stream names + argument list", c.per_read_ns),
    ]
    head = f"Apply path, best of 5 over {c.entries:,} captured entries ({c.replies} replies):\n\n"
    return head + format_table(
        ("step", "ns", "per"),
        [(name, f"{ns:,.0f}", "reply" if "XREAD" in name else "entry") for name, ns in rows],
        markdown,
    )


def notes(lags: list[LagResult]) -> str:
    return "".join(_notes(lag) for lag in chosen(lags))


def _notes(lag: LagResult) -> str:
    if lag.load == "events":
        return (
            f"- {INJECTED}{lag.writers} processes XADD ledger-shaped entries on a schedule at "
            f"the rate {lag.rate_target_per_s:,.0f} reservations/s makes them (5 a reservation: "
            "a header event each for hold and settle, one per line): the replica's own work, "
            "without the writers' CPU and Redis's script load. " + _load_text(lag)
        )
    return _reservation_notes(lag) + _load_text(lag)


def _load_text(lag: LagResult) -> str:
    busy = ", ".join(f"{p.command} ({p.core_share:.2f})" for p in lag.busy_others) or "none"
    la0, la1 = lag.load_average_start, lag.load_average_end
    return (
        f"Load average {la0[0]:.2f} at the window's start, {la1[0]:.2f} at its end; "
        f"CPU of others during the window {lag.others_core_share:.2f} cores "
        f"(busiest: {busy}). Redis serves other databases too.\n"
    )


def _reservation_notes(lag: LagResult) -> str:
    return (
        f"- Lag: {lag.writers} writer processes (spawned, each its own Engine and event loop) "
        f"offer {lag.rate_target_per_s:,.0f} reservations/s on a fixed schedule (open loop) "
        f"over {lag.positions_written:,} positions: 1-3 lines of 1-3 units, each hold settled "
        "0.2-2 s later (70% released, 20% committed, 10% committed and fulfilled). The replica "
        "(atp/replica.py's tail loop) runs in a process of its own (loaded "
        f"in {lag.replica_load_s:.1f} s); an event's lag is from the ms of its stream id to the "
        f"end of applying its XREAD reply. {lag.measure_s:g} s measured after a warm-up. "
    )
