"""The figures of a fault run: the zero targets and the time to serve again after each
fault, as JSON and as bench/RESULTS.md's section."""

import shlex

import msgspec

from bench.common.stats import Target, target, targets_markdown
from bench.faults.faults import Plan
from bench.faults.scenario import Outcome

TITLE = "Faults under load (issue 17)"
EXAMPLE_CHARS_MAX = 1500
EXAMPLES_MAX = 10


class Recovered(msgspec.Struct, frozen=True):
    fault: str
    at_s: float
    readyz_s: float
    write_s: float


class Report(msgspec.Struct, frozen=True):
    started_at: str
    plan: dict[str, object]
    load_s: float
    writes_acknowledged: int
    reads: int
    reservations: int
    orders: int
    retries: int
    proxy_dropped: int
    refused_yet_applied: int
    order_disagrees: int
    proxy_delay_ms: float
    proxy_drop_per_chunk: float
    statuses: dict[str, int]
    recoveries: list[Recovered]
    targets: list[Target]
    examples: list[str]  # the first of whatever missed a target
    machine: object


def report(outcome: Outcome, plan: Plan, started_at: str, machine: object) -> Report:
    tally, verdict = outcome.tally, outcome.verdict
    unauthorized = tally.unauthorized + verdict.unauthorized
    targets = [
        target("acknowledged writes lost", len(verdict.lost), 0, "", "equal"),
        target("acknowledged writes applied twice", len(verdict.applied_twice), 0, "", "equal"),
        target("5xx other than 503 with Retry-After", len(tally.bad_5xx), 0, "", "equal"),
        target("401s after a Redis loss", len(unauthorized), 0, "", "equal"),
        target("other unexpected answers", len(tally.failures), 0, "", "equal"),
    ]
    examples = [*verdict.lost, *verdict.applied_twice, *tally.bad_5xx, *unauthorized]
    examples += verdict.refused_yet_applied + verdict.order_disagrees + verdict.explained
    return Report(
        started_at=started_at,
        plan=msgspec.to_builtins(plan),
        load_s=round(outcome.load_s, 1),
        writes_acknowledged=outcome.loaded,
        reads=tally.reads,
        reservations=len(tally.finished),
        orders=len(tally.orders),
        retries=tally.retries,
        proxy_dropped=outcome.dropped,
        refused_yet_applied=len(verdict.refused_yet_applied),
        order_disagrees=len(verdict.order_disagrees),
        proxy_delay_ms=plan.proxy_faults.delay_s * 1000,
        proxy_drop_per_chunk=plan.proxy_faults.drop_per_chunk,
        statuses={str(s): n for s, n in sorted(tally.statuses.items())},
        recoveries=[Recovered(r.fault, r.at_s, r.ready_s, r.write_s) for r in outcome.recoveries],
        targets=targets,
        examples=(examples + tally.failures)[:EXAMPLES_MAX],
        machine=machine,
    )


def markdown(r: Report, argv: list[str]) -> str:
    p = r.plan
    lines = [
        f"Run {r.started_at}: `python -m bench.faults {shlex.join(argv)}`. `atp serve "
        "--workers 2 --journal` on a private redis-server and PostgreSQL, reaching Redis "
        f"through a TCP proxy of the benchmark's own; {p['clients']} client(s) of each kind "
        "(holds committed then fulfilled or released, stock adjustments, orders placed and "
        "confirmed with every third a pickup worked to `picked_up`, storefront reads) and two "
        "registers replaying batches until acknowledged. In turn: Redis SIGKILLed and "
        f"restarted empty {p['redis_kills']} times {p['redis_every_s']:g} s apart, PostgreSQL "
        f"SIGKILLed and back after {p['pg_down_s']:g} s, one API worker SIGKILLed, then "
        f"{p['proxy_s']:g} s of {r.proxy_delay_ms:g} ms delay on every chunk each way between "
        f"the engine and Redis and a {r.proxy_drop_per_chunk:g} chance per chunk of the "
        "connection being dropped; Redis lost once more after the load so every position is "
        "rebuilt from PostgreSQL, then every acknowledged write checked and sent again with "
        "its ids. "
        f"Machine: {msgspec.json.encode(r.machine).decode()}.",
        "",
        f"Load: {r.writes_acknowledged:,} writes acknowledged in {r.load_s:g} s, "
        f"{r.reads:,} reads, {r.reservations:,} reservations and {r.orders:,} orders "
        f"finished, {r.retries:,} retries, {r.proxy_dropped} connections dropped by the proxy; "
        f"answers by status {r.statuses}.",
        "",
        *targets_markdown(r.targets),
        "",
        "Not targets, counted: steps answered refused when retried after a Redis loss "
        f"although their first try was applied: {r.refused_yet_applied} (a retried settle of "
        "an ended reservation answers from the journal; a retried commit of one does not); "
        f"of them, orders left unhanded-over with their hold fulfilled: "
        f"{r.order_disagrees}. Every such reservation was read back and its units counted, "
        "so the lost check stays exact.",
        "",
        "Serving again, seconds from the fault (the proxy: from the network healing) until "
        "`/readyz` answers 200 three times running and until a stock write is acknowledged:",
        "",
        "| fault | at s | /readyz back s | a write acknowledged s |",
        "|---|--:|--:|--:|",
        *(f"| {c.fault} | {c.at_s:g} | {c.readyz_s:g} | {c.write_s:g} |" for c in r.recoveries),
    ]
    if r.examples:
        lines += ["", "First misses:", "", *(f"- `{e[:EXAMPLE_CHARS_MAX]}`" for e in r.examples)]
    return "\n".join(lines)
