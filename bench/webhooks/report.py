"""The benchmark's section of bench/RESULTS.md."""

from typing import Any

from webhooks.limits import ATTEMPTS_MAX, BACKOFF_JITTER, IN_FLIGHT_MAX

TITLE = "Webhooks (python -m bench.webhooks)"
TARGET_PER_S = 1_000
# Kept in every run's section: why the deliverer has a transport of its own.
HISTORY = """\
With httpx's default transport (httpcore) instead of webhooks/transport.py, a quick run
(3,000 deliveries, 2026-12-03 23:08 UTC) measured 253 deliveries/s and 247 baseline POSTs/s:
httpcore spent ~1 ms of CPU per POST at one in flight and ~4 ms at 64 (its pool's
bookkeeping grows with the waiting requests); raw asyncio streams ~40 us. The claim query
on a table without statistics yet (a fresh database) first scanned every pending row per
row through the listing index: the listing index is (endpoint_id, id) since."""


def markdown(report: Any) -> str:
    t, r = report.throughput, report.retries
    verdict = "met" if t.delivered_per_s >= TARGET_PER_S and t.unverified == 0 else "MISSED"
    load = ", ".join(f"{x:.2f}" for x in report.load_before)
    cpu = f"{t.deliverer_core_share} / {t.receiver_core_share} / {t.others_core_share}"
    schedule = f"5 s doubling to 4 h, +-{BACKOFF_JITTER:.0%}"
    verdict = f"target >= {TARGET_PER_S:,}/s: {verdict}"
    return f"""\
{report.mode} run, {report.started_at}; {report.machine.cpus} cores ({report.machine.cpu_model}),
load average before {load}. One process fans the feed out and delivers
(`webhooks.runner.Webhooks`, {IN_FLIGHT_MAX} POSTs in flight); the receiver is one uvicorn
process verifying every signature with `standardwebhooks`.

| figure | value |
|---|---|
| deliveries ({t.skus} SKUs) | {t.deliveries:,} |
| fan-out: feed rows to recorded deliveries | {t.fan_out_per_s:,}/s |
| **delivered, signed, verified and recorded** | **{t.delivered_per_s:,}/s** ({verdict}) |
| baseline: the same signed POSTs from httpx, no PostgreSQL | {t.baseline_posts_per_s:,}/s |
| ratio delivered / baseline | {t.delivered_per_s / max(t.baseline_posts_per_s, 1):.2f} |
| signatures the receiver refused | {t.unverified} |
| CPU while delivering (cores): deliverer / receiver / others | {cpu} |

Retry schedule, receiver failing half the time at random ({r.deliveries:,} deliveries, 100
SKUs; a manual clock moved to each next due attempt, so hours of backoff pass at once):

| figure | value |
|---|---|
| attempts | {r.attempts:,} |
| retries checked against the schedule ({schedule}) | {r.retries_checked:,} |
| retries early / late | {r.retries_early} / {r.retries_late} |
| most attempts of one delivery (cap {ATTEMPTS_MAX}) | {r.attempts_max} |
| delivered / dead | {r.delivered:,} / {r.dead} |
| per-SKU order violations | {r.order_violations} |
| simulated span, first to last attempt | {r.span_h} h |

{HISTORY}
"""
