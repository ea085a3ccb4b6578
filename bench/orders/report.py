"""bench.orders's figures, its targets (issue 14) and its RESULTS.md section."""

import msgspec

from bench.common.machine import CpuUse, Machine
from bench.common.stats import Summary, Target, format_table, target, targets_markdown
from bench.orders.load import Step
from bench.orders.promise import Piece

TITLE = "Orders end to end and the pickup promise (python -m bench.orders)"
ORDERS = "orders: POST /v1/orders + /confirm"
BASELINE = "baseline: POST /v1/routing/allocate + /v1/reservations/{id}/commit"
ORDERS_PER_S_MIN = 500.0
ORDER_P99_MS_MAX = 50.0
PROMISE_P99_MS_MAX = 2.0


class Report(msgspec.Struct, frozen=True):
    started_at: str
    command: str
    mode: str
    seconds: float
    workers: int
    locations: int
    skus: int
    pickup_share: float
    steps: list[Step]  # orders and baseline, interleaved level by level
    promise_steps: list[Step]
    pieces: list[Piece]
    targets: list[Target]
    machine: Machine
    cpu: CpuUse
    workers_core_share: float  # the API workers over the run (in cpu's others_core_share)
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]


def _ms(s: Summary | None, which: str) -> str:
    if s is None:
        return ""
    return f"{getattr(s, f'latency_us_{which}') / 1000:.2f}"


def _load(step: Step) -> str:
    if step.offered_per_s is None:
        return f"closed, {step.connections} conn"
    return f"open {step.offered_per_s:g}/s, {step.connections} conn"


def _carried(step: Step) -> float | None:
    """Orders/s a step carried with p99 <= 50 ms and nothing failed, else None. Open loop:
    the offered rate, when every order due was sent and its p99 counted from when it was
    due is within the bound (a server that fell behind would show in that p99)."""
    if step.errors or step.unsent or step.flows.latency_us_p99 / 1000 > ORDER_P99_MS_MAX:
        return None
    return step.flows.ops_per_s if step.offered_per_s is None else step.offered_per_s


def targets(steps: list[Step], promise_steps: list[Step]) -> list[Target]:
    orders = [s for s in steps if s.flow == ORDERS]
    within = [rate for rate in map(_carried, orders) if rate is not None]
    found = [
        target(
            "orders/s (create + confirm) carried with p99 <= 50 ms, best step",
            round(max(within, default=0.0), 1),
            ORDERS_PER_S_MIN,
            "orders/s",
            "at_least",
        )
    ]
    at_rate = [s for s in orders if s.offered_per_s == ORDERS_PER_S_MIN]
    if at_rate:
        found.append(
            target(
                "order p99 (create + confirm) at 500 orders/s offered",
                round(at_rate[0].flows.latency_us_p99 / 1000, 2),
                ORDER_P99_MS_MAX,
                "ms",
                "at_most",
            )
        )
    if promise_steps:
        found.append(
            target(
                "pickup promise route p99, 1 connection",
                round(promise_steps[0].flows.latency_us_p99 / 1000, 3),
                PROMISE_P99_MS_MAX,
                "ms",
                "at_most",
            )
        )
    return found


def _steps_table(steps: list[Step]) -> str:
    headers = ["flow", "load", "flows/s", "p50 ms", "p99 ms", "max ms", "1st p50", "1st p99",
               "2nd p50", "2nd p99", "errors", "unsent", "drain ms", "server CPU us/flow",
               "server cores", "client CPU us/flow", "shipments/order", "split share",
               "locations used"]  # fmt: skip
    rows = [
        [s.flow.split(":")[0], _load(s), f"{s.flows.ops_per_s:,.0f}", _ms(s.flows, "p50"),
         _ms(s.flows, "p99"), _ms(s.flows, "max"), _ms(s.first, "p50"), _ms(s.first, "p99"),
         _ms(s.second, "p50"), _ms(s.second, "p99"), str(sum(s.errors.values())),
         str(s.unsent), f"{s.drain_ms:g}", f"{s.flows.server_cpu_us_per_call:,.0f}",
         f"{s.server_cores:.2f}",
         f"{s.flows.cpu_us_per_call:.0f}",
         f"{s.shipments_per_order:.2f}" if s.locations_used else "",
         f"{s.multi_shipment_share:.0%}" if s.locations_used else "",
         str(s.locations_used) if s.locations_used else ""]
        for s in steps
    ]  # fmt: skip
    return format_table(headers, rows, markdown=True)


def _ratios_table(steps: list[Step]) -> str:
    """Orders over the baseline at the same load: what the order rows cost."""
    baselines = {_load(s): s for s in steps if s.flow == BASELINE}
    headers = ["load", "orders/s ÷ baseline", "p50 ÷ baseline", "p99 ÷ baseline",
               "server CPU per flow ÷ baseline"]  # fmt: skip
    rows = []
    for s in steps:
        b = baselines.get(_load(s))
        if s.flow != ORDERS or b is None:
            continue
        rows.append(
            [_load(s), f"{s.flows.ops_per_s / b.flows.ops_per_s:.2f}",
             f"{s.flows.latency_us_p50 / b.flows.latency_us_p50:.2f}",
             f"{s.flows.latency_us_p99 / b.flows.latency_us_p99:.2f}",
             f"{s.flows.server_cpu_us_per_call / max(b.flows.server_cpu_us_per_call, 1):.2f}"]
        )  # fmt: skip
    return format_table(headers, rows, markdown=True)


def _promise_table(report: Report) -> str:
    headers = ["what", "calls", "p50 us", "p99 us", "max us", "per s"]
    rows = [
        [f"{s.flow}, HTTP, {s.connections} conn", f"{s.flows.calls:,}",
         f"{s.flows.latency_us_p50:.0f}", f"{s.flows.latency_us_p99:.0f}",
         f"{s.flows.latency_us_max:.0f}", f"{s.flows.ops_per_s:,.0f}"]
        for s in report.promise_steps
    ]  # fmt: skip
    rows += [
        [p.name, f"{p.calls:,}", f"{p.us_p50:.1f}", f"{p.us_p99:.1f}", f"{p.us_max:.1f}", ""]
        for p in report.pieces
    ]
    return format_table(headers, rows, markdown=True)


def markdown(report: Report) -> str:
    m, cpu = report.machine, report.cpu
    busy = ", ".join(f"{p.command} {p.core_share}" for p in cpu.busy_processes[:6])
    errors = [e for s in [*report.steps, *report.promise_steps] for e in s.error_samples]
    head = (
        f"Run {report.started_at}: `{report.command}` ({report.mode}, {report.seconds:.0f} s). "
        f"The API served by `cli.supervisor` as `atp serve` runs it, {report.workers} workers "
        "(SO_REUSEPORT), durable engine (every write waits for its PostgreSQL group commit), "
        "auth on, rate limit on (1M/s: checked, never refusing), access log off, Redis on "
        f"127.0.0.1:6379 (shared server). Catalog: {report.locations} locations (46 stores "
        "with pickup and ship-from-store, open 00:00-23:59 UTC every day; 4 warehouses), "
        f"{report.skus} SKUs stocked at every location. Each order: 3 lines of 1-2 units, "
        f"{1 - report.pickup_share:.0%} shipped to a random point in southern Norway, "
        f"{report.pickup_share:.0%} picked up at a random store; the baseline sends the same "
        "carts as `POST /v1/routing/allocate` (same id scheme, same 30 min hold) then "
        "`POST /v1/reservations/{id}/commit`: the engine's path without the order rows. "
        "Load from this process (asyncio, one keep-alive HTTP/1.1 connection per "
        "simulated client; each step opens its own). Closed loop: each connection starts its "
        "next order when the last is confirmed. Open loop: orders due at a fixed rate, each "
        "taken by a free connection, latency counted from when it was due (a step that falls "
        "behind stops starting orders 3 s after the last was due: unsent). Server CPU = the "
        f"workers' /proc user + system over the step. {m.cpus} CPUs ({m.cpu_model}), Python "
        f"{m.python}. Load average at start / end: "
        f"{' '.join(f'{x:.2f}' for x in report.load_start)} / "
        f"{' '.join(f'{x:.2f}' for x in report.load_end)}; core shares over the run: this "
        f"process {cpu.own_core_share}, the API workers {report.workers_core_share}, Redis "
        f"{cpu.redis_core_share}, others "
        f"{max(0.0, cpu.others_core_share - report.workers_core_share):.2f} (busiest: {busy})."
    )
    parts = [
        head,
        "\n".join(targets_markdown(report.targets)),
        "Orders and the baseline, level by level (1st = create or allocate, 2nd = confirm "
        "or commit; latencies in ms; split share = orders routed to more than one location):",
        _steps_table(report.steps),
        "The order service against the baseline at the same load:",
        _ratios_table(report.steps),
        "Pickup promise: the route over HTTP (closed loop, random SKU, qty 1-3 and store), "
        "and its pieces timed in this process:",
        _promise_table(report),
    ]
    if errors:
        parts.append("First errors:\n\n" + "\n".join(f"- `{e[:200]}`" for e in errors))
    return "\n\n".join(parts)
