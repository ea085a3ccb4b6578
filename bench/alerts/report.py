"""The alerts benchmark's figures and its bench/RESULTS.md section."""

import msgspec

from alerts.limits import SENDS_PER_PASS_MAX
from bench.common.stats import Target

TITLE = "Back-in-stock alerts (python -m bench.alerts)"
TARGET_P99_MS = 1000.0


class Latency(msgspec.Struct, frozen=True):
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float


class Report(msgspec.Struct, frozen=True, kw_only=True):
    started_at: str
    command: str
    mode: str
    subscriptions: int
    rounds: int
    units_per_restock: int
    subscribers_per_unit: int
    sends: int
    subscribers_told_twice: int
    recorded: Latency  # the stock write's start -> every send of its restock recorded
    delivered: Latency  # -> each send received by the messaging tool (the local receiver)
    undelivered: int  # sends the receiver had not got at the end
    target: Target
    seed_s: float
    big_units: int  # one last restock this large, sent over several bounded passes
    big_first_ms: float
    big_last_ms: float
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float]
    others_core_share: float
    server_core_share: float
    busy: list[str]
    machine: object


def markdown(r: Report) -> str:
    la0 = " ".join(f"{x:.2f}" for x in r.load_average_start)
    la1 = " ".join(f"{x:.2f}" for x in r.load_average_end)
    met = "met" if r.target.met else "NOT met"
    return "\n".join(
        [
            f"Run {r.started_at}: `{r.command}` (mode {r.mode}). {r.subscriptions:,} waiting "
            f"subscriptions on one SKU at one store (inserted with COPY in {r.seed_s:.1f} s). "
            f"One `atp serve` worker (changes sequencer, alerts worker and webhook deliverer "
            "in it, auth on); each round writes `POST /v1/stock/adjustments` "
            f"+{r.units_per_restock} "
            f"(0 -> {r.units_per_restock}: a `back_in_stock`), waits for its sends, then sells "
            f"the units (-> 0) and pauses 0-200 ms at random. {r.subscribers_per_unit} "
            f"subscribers per unit (the default): {r.units_per_restock * r.subscribers_per_unit} "
            "sends per restock, oldest first. Latency from just before the stock write's "
            "request to the moment the benchmark saw the restock's `alert.triggered` "
            "deliveries in `webhook_deliveries` (polled every 2 ms), and to the local "
            "receiver's receipt of each one (the messaging tool's side).",
            "",
            "| figure | samples | p50 ms | p99 ms | max ms |",
            "|---|--:|--:|--:|--:|",
            _row("stock write -> deliveries recorded (per restock)", r.recorded),
            _row("stock write -> delivered to the receiver (per send)", r.delivered),
            "",
            f"- {r.sends:,} sends over {r.rounds} measured rounds (after a warm-up round); "
            f"subscribers told twice: {r.subscribers_told_twice}; not delivered at the end: "
            f"{r.undelivered}.",
            f"- One restock of {r.big_units:,} units after the rounds "
            f"({r.big_units * r.subscribers_per_unit:,} sends, recorded in bounded passes of "
            f"{SENDS_PER_PASS_MAX}): the first recorded after {r.big_first_ms:.1f} ms, the last "
            f"after {r.big_last_ms:.1f} ms.",
            f"- target p99 <= {TARGET_P99_MS:.0f} ms, recorded: {r.target.measured:.1f} ms: {met}.",
            "- Delivery to the receiver is the webhook deliverer's work (webhooks/: "
            "in order per endpoint and SKU, with its own polling and "
            "retries), outside the alerts target; it shows when the messaging tool would "
            "have each message.",
            f"- Load average at start / end: {la0} / {la1}; the server's worker used "
            f"{r.server_core_share} of a core; other processes (PostgreSQL, Redis included) "
            f"{r.others_core_share}; busiest: {', '.join(r.busy)}.",
        ]
    )


def _row(name: str, x: Latency) -> str:
    return f"| {name} | {x.samples:,} | {x.p50_ms:.1f} | {x.p99_ms:.1f} | {x.max_ms:.1f} |"
