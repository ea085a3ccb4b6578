"""Prometheus metrics, safe under several worker processes.

With PROMETHEUS_MULTIPROC_DIR set (``atp serve`` sets and wipes it before starting
workers), each process writes its samples to files there and /metrics merges them. The
variable must be set before prometheus_client is first imported in the process.
"""

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from atp.register_events import RegisterEventResult

REQUEST_SECONDS = Histogram(
    "atp_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LEDGER_OPERATIONS = Counter(
    "atp_ledger_operations_total",
    "Ledger operations by outcome: ok, or the refusal's problem type",
    ["operation", "outcome"],
)
HOLD_EXPIRIES = Counter("atp_hold_expiries_total", "Holds the expiry sweeper expired")
REGISTER_EVENTS = Counter("atp_pos_events_total", "Register events by status", ["status"])
REGISTER_OVERSOLD_UNITS = Counter("atp_pos_oversold_units_total", "Units registers oversold")
# Per live worker process (multiprocess mode keeps one series per pid for "livemax"; the
# max across workers is the figure to alert on).
REPLICA_LAG_SECONDS = Gauge(
    "atp_replica_lag_seconds",
    "How far this worker's in-memory replica trails Redis",
    multiprocess_mode="livemax",
)
REPLICA_READY = Gauge(
    "atp_replica_ready",
    "1 when this worker's replica has loaded and follows the streams",
    multiprocess_mode="livemin",
)


# Every request is counted in plain Python (a dict increment) and flushed to Prometheus once
# a second by the app's metrics task and before /metrics renders: in multiprocess mode each
# Prometheus update is an mmap write behind a lock and a pid check, which cost a lean read
# route a third of its time. A flushed histogram bucket is incremented by its count at once
# (prometheus_client's per-bucket values; pinned version).
_BOUNDS = REQUEST_SECONDS._upper_bounds
_requests: dict[tuple[str, str, int], list[float]] = {}  # route key -> bucket counts + sum
_operations: dict[tuple[str, str], int] = {}
_children: dict[tuple[str, str, int], Any] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    counts = _requests.get(key)
    if counts is None:
        counts = _requests[key] = [0.0] * (len(_BOUNDS) + 1)
    counts[-1] += seconds
    for i, bound in enumerate(_BOUNDS):
        if seconds <= bound:
            counts[i] += 1
            return


def count_operation(operation: str, outcome: str) -> None:
    key = (operation, outcome)
    _operations[key] = _operations.get(key, 0) + 1


def flush() -> None:
    """Hands what was counted since the last flush to Prometheus."""
    for key, counts in list(_requests.items()):
        if not any(counts):
            continue
        child = _children.get(key)
        if child is None:
            route, method, status = key
            child = _children[key] = REQUEST_SECONDS.labels(route, method, str(status))
        for i, count in enumerate(counts[:-1]):
            if count:
                child._buckets[i].inc(count)
        child._sum.inc(counts[-1])
        _requests[key] = [0.0] * (len(_BOUNDS) + 1)
    for (operation, outcome), count in list(_operations.items()):
        if count:
            LEDGER_OPERATIONS.labels(operation, outcome).inc(count)
            _operations[(operation, outcome)] = 0


def render() -> tuple[bytes, str]:
    flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def count_register_events(results: Iterable[RegisterEventResult]) -> None:
    for result in results:
        REGISTER_EVENTS.labels(result.status.value).inc()
        if result.oversold:
            REGISTER_OVERSOLD_UNITS.inc(result.oversold)
