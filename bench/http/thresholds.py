"""Pass/fail thresholds for a headless locust run: the exit code says whether they held.

    --max-p99-ms 250              p99 of every HTTP request together (ms)
    --max-p99-ms "/v1/orders=400" the p99 of one request name (repeat the option)
    --max-fail-ratio 0.01         failures / requests (all, or NAME=ratio)
    --min-rps 100                 requests per second (all HTTP requests, or NAME=rps)
    --max-change-lag-p99-ms 1000  p99 lag of the /v1/changes events listeners read
    --min-change-events 1         events the listeners read in all

"All" means every HTTP request: the listeners' SSE events (whose time is a lag) are judged
only by the two change options. At quit, each threshold missed is printed with what was
measured and the process exits 1.
"""

from collections.abc import Callable, Iterable

from locust import events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.stats import StatsEntry

SSE = "SSE"  # bench/http/flows_feed.py's request type
ALL = ""  # a threshold without a NAME= applies to every HTTP request
CHANGE_EVENT = "/v1/changes event"
P99 = 0.99


def _options(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("thresholds (bench/http/thresholds.py)")
    for flag, what in (
        ("--max-p99-ms", "p99 ms: VALUE for all HTTP requests or NAME=VALUE (repeatable)"),
        ("--max-fail-ratio", "failures/requests: VALUE or NAME=VALUE (repeatable)"),
        ("--min-rps", "requests/s: VALUE or NAME=VALUE (repeatable)"),
    ):
        group.add_argument(flag, action="append", default=[], help=what)
    group.add_argument("--max-change-lag-p99-ms", type=float, help="p99 lag of change events")
    group.add_argument("--min-change-events", type=int, help="change events read, at least")


def parse(specs: Iterable[str]) -> dict[str, float]:
    """'250' -> {'': 250.0}; '/v1/orders=400' -> {'/v1/orders': 400.0}."""
    found = {}
    for spec in specs:
        name, _, value = spec.rpartition("=")
        found[name] = float(value)
    return found


def _entry(environment: Environment, name: str) -> StatsEntry | None:
    """All HTTP requests together (name ''), or every method's requests of one name."""
    stats = environment.stats
    merged = StatsEntry(stats, name or "HTTP", "", use_response_times_cache=False)
    matched = False
    for entry in stats.entries.values():
        if entry.method != SSE and (name == ALL or entry.name == name):
            merged.extend(entry)
            matched = True
    return merged if matched else None


def _p99(entry: StatsEntry) -> float:
    return float(entry.get_response_time_percentile(P99))


def _fail_ratio(entry: StatsEntry) -> float:
    return float(entry.fail_ratio)


def _rps(entry: StatsEntry) -> float:
    return float(entry.total_rps)


def _sse(environment: Environment) -> StatsEntry | None:
    return environment.stats.entries.get((CHANGE_EVENT, SSE))


def missed(environment: Environment) -> list[str]:
    """Each threshold of the run's options that the run's figures did not hold."""
    o = environment.parsed_options
    assert o is not None
    out: list[str] = []
    checks: list[tuple[str, dict[str, float], Callable[[StatsEntry], float], bool]] = [
        ("p99 ms", parse(o.max_p99_ms), _p99, True),
        ("fail ratio", parse(o.max_fail_ratio), _fail_ratio, True),
        ("requests/s", parse(o.min_rps), _rps, False),
    ]
    for what, limits, measure, is_max in checks:
        for name, limit in limits.items():
            entry = _entry(environment, name)
            value = measure(entry) if entry is not None else 0.0
            if (value > limit) if is_max else (value < limit):
                bound = "at most" if is_max else "at least"
                label = name or "all HTTP requests"
                out.append(f"{label}: {what} {value:g}, wanted {bound} {limit:g}")
    events_ = _sse(environment)
    count = events_.num_requests if events_ is not None else 0
    if o.min_change_events is not None and count < o.min_change_events:
        out.append(f"{CHANGE_EVENT}: {count} events, wanted at least {o.min_change_events}")
    if o.max_change_lag_p99_ms is not None and events_ is not None:
        lag = events_.get_response_time_percentile(P99)
        if lag > o.max_change_lag_p99_ms:
            out.append(f"{CHANGE_EVENT}: lag p99 {lag:g} ms, wanted at most "
                       f"{o.max_change_lag_p99_ms:g}")  # fmt: skip
    return out


def _judge(environment: Environment, **_: object) -> None:
    if environment.parsed_options is None:
        return
    events_ = _sse(environment)
    if events_ is not None and events_.num_requests:
        print(f"change events: {events_.num_requests}, {events_.total_rps:.1f}/s, lag p50 "
              f"{events_.get_response_time_percentile(0.5)} ms, p99 "
              f"{events_.get_response_time_percentile(P99)} ms", flush=True)  # fmt: skip
    failed = missed(environment)
    for line in failed:
        print(f"THRESHOLD MISSED {line}", flush=True)
    if failed:
        environment.process_exit_code = 1
    elif environment.stats.total.num_requests:
        print("thresholds held", flush=True)


# Registered on import by the locust file (locust's EventHook is untyped).
events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_judge)  # type: ignore[no-untyped-call]
