"""The load: flows of one or two requests (an order's create then confirm; the baseline's
allocate then commit; a promise query), driven closed-loop (N connections, each starting
its next flow when the last one answered) or open-loop (flows due at a fixed rate, each
taken by a free connection; a flow's latency runs from when it was due, so a server that
falls behind is charged for the wait, not hidden by it).

Each step opens its own connections (uvicorn closes keep-alive connections idle for 5 s)
and is bounded in time and in flows.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import asyncio
import itertools
import os
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from bench.common.stats import Samples, Summary, summarize
from bench.orders.client import Connection

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
ERROR_SAMPLES_MAX = 3
ERROR_TEXT_MAX = 300
OPEN_LEAD_NS = 20_000_000  # the first open-loop flow is due this long after the start
# An open loop the server cannot keep up with stops starting flows this long after the
# last one was due: the run stays bounded in time; the flows left are counted unsent.
OPEN_GRACE_NS = 3_000_000_000


@dataclass(frozen=True)
class Flow:
    """``first(n)``: (method, path, body); ``second(n)``: the path of a bodiless POST, or
    None for a flow of one request; ``where``: the locations a first answer routed to."""

    name: str
    first: Callable[[int], tuple[str, str, bytes]]
    second: Callable[[int], str] | None = None
    where: Callable[[bytes], list[str]] | None = None


class _Where(msgspec.Struct):
    location: str


class _OrderAnswer(msgspec.Struct):
    shipments: list[_Where]


class _Plan(msgspec.Struct):
    shipments: list[_Where]


class _AllocateAnswer(msgspec.Struct):
    plan: _Plan


_ORDER = msgspec.json.Decoder(_OrderAnswer)
_ALLOCATE = msgspec.json.Decoder(_AllocateAnswer)


def order_locations(answer: bytes) -> list[str]:
    return [s.location for s in _ORDER.decode(answer).shipments]


def allocate_locations(answer: bytes) -> list[str]:
    return [s.location for s in _ALLOCATE.decode(answer).plan.shipments]


class Step(msgspec.Struct, frozen=True):
    flow: str
    mode: str  # closed | open
    connections: int
    offered_per_s: float | None  # open loop
    seconds: float
    flows: Summary  # latency of the whole flow (from when it was due, open loop)
    first: Summary
    second: Summary | None
    errors: dict[str, int]
    error_samples: list[str]
    unsent: int  # open loop: flows due that were never started (the server fell behind)
    drain_ms: float  # open loop: how long after the last flow was due the last one ended
    server_cores: float  # the API workers' CPU over the step, in cores
    shipments_per_order: float
    multi_shipment_share: float
    locations_used: int


@dataclass
class _Record:
    flows: array[int] = field(default_factory=lambda: array("q"))
    first: array[int] = field(default_factory=lambda: array("q"))
    second: array[int] = field(default_factory=lambda: array("q"))
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    shipments: int = 0
    multi: int = 0
    routed: int = 0
    locations: set[str] = field(default_factory=set)
    last_done_ns: int = 0

    def fail(self, what: str, status: int, body: bytes) -> None:
        self.errors[f"{what} {status}"] += 1
        if len(self.error_samples) < ERROR_SAMPLES_MAX:
            self.error_samples.append(f"{what} {status}: {body[:ERROR_TEXT_MAX].decode()}")


async def _run(flow: Flow, conn: Connection, n: int, due_ns: int, rec: _Record) -> None:
    method, path, body = flow.first(n)
    started = time.perf_counter_ns()
    status, answer = await conn.request(method, path, body)
    answered = time.perf_counter_ns()
    rec.first.append(answered - started)
    if status not in (200, 201):
        rec.fail("first", status, answer)
        return
    if flow.where is not None:
        where = flow.where(answer)
        rec.routed += 1
        rec.shipments += len(where)
        rec.multi += len(where) > 1
        rec.locations.update(where)
    if flow.second is not None:
        status, answer = await conn.request("POST", flow.second(n))
        done = time.perf_counter_ns()
        rec.second.append(done - answered)
        if status != 200:
            rec.fail("second", status, answer)
            return
        answered = done
    rec.flows.append(answered - due_ns)
    rec.last_done_ns = answered


def _ticks(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


async def run(
    flow: Flow,
    port: int,
    key: str,
    connections: int,
    seconds: float,
    flows_max: int,
    worker_pids: Sequence[int],
    rate_per_s: float | None = None,
) -> Step:
    """One step: closed loop, or open loop at ``rate_per_s``."""
    conns = [await Connection.open(port, key) for _ in range(connections)]
    rec, counter = _Record(), itertools.count()
    ticks, cpu_ns = _ticks(worker_pids), time.process_time_ns()
    start = time.perf_counter_ns()
    end = start + int(seconds * 1e9)
    total = flows_max if rate_per_s is None else min(flows_max, int(rate_per_s * seconds))
    first_due = start + OPEN_LEAD_NS

    async def one(i: int, n: int, due_ns: int) -> None:
        try:
            await _run(flow, conns[i], n, due_ns, rec)
        except (OSError, asyncio.IncompleteReadError) as exc:  # counted, and a new connection
            rec.fail("socket", 0, repr(exc).encode())
            await conns[i].close()
            conns[i] = await Connection.open(port, key)

    async def closed(i: int) -> None:
        while time.perf_counter_ns() < end and (n := next(counter)) < total:
            await one(i, n, time.perf_counter_ns())

    async def open_(i: int, rate: float) -> None:
        stop = first_due + int(total / rate * 1e9) + OPEN_GRACE_NS
        while time.perf_counter_ns() < stop and (n := next(counter)) < total:
            due = first_due + int(n * 1e9 / rate)
            wait = due - time.perf_counter_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            await one(i, n, due)

    try:
        if rate_per_s is None:
            await asyncio.gather(*(closed(i) for i in range(connections)))
        else:
            await asyncio.gather(*(open_(i, rate_per_s) for i in range(connections)))
    finally:
        for c in conns:
            await c.close()
    finished = time.perf_counter_ns()
    if not rec.flows:
        raise SystemExit(f"{flow.name}: no flow succeeded: {rec.error_samples}")
    span = _Span(
        connections,
        rate_per_s,
        start,
        finished,
        first_due,
        total,
        unsent=0 if rate_per_s is None else max(0, total - next(counter)),
        cpu_ns=time.process_time_ns() - cpu_ns,
        server_ns=(_ticks(worker_pids) - ticks) * 1_000_000_000 // _TICKS_PER_S,
    )
    return _step(flow, rec, span)


@dataclass(frozen=True)
class _Span:
    connections: int
    rate_per_s: float | None
    start_ns: int
    finished_ns: int
    first_due_ns: int
    total: int  # flows the step could start
    unsent: int
    cpu_ns: int
    server_ns: int


def _step(flow: Flow, rec: _Record, span: _Span) -> Step:
    drain_ms = 0.0
    if span.rate_per_s is None:
        wall = span.finished_ns - span.start_ns
    else:  # from the first flow due to the last one done
        window = int(span.total / span.rate_per_s * 1e9)
        wall = max(window, rec.last_done_ns - span.first_due_ns)
        drain_ms = max(0, rec.last_done_ns - (span.first_due_ns + window)) / 1e6
    orders = max(rec.routed, 1)

    def summary(latencies: array[int]) -> Summary:
        return summarize(Samples(latencies, wall, span.cpu_ns, span.server_ns))

    return Step(
        flow=flow.name,
        mode="closed" if span.rate_per_s is None else "open",
        connections=span.connections,
        offered_per_s=span.rate_per_s,
        seconds=round((span.finished_ns - span.start_ns) / 1e9, 2),
        flows=summary(rec.flows),
        first=summary(rec.first),
        second=summary(rec.second) if flow.second is not None and rec.second else None,
        errors=dict(rec.errors),
        error_samples=rec.error_samples,
        unsent=span.unsent,
        drain_ms=round(drain_ms, 1),
        server_cores=round(span.server_ns / max(span.finished_ns - span.start_ns, 1), 2),
        shipments_per_order=round(rec.shipments / orders, 3),
        multi_shipment_share=round(rec.multi / orders, 3),
        locations_used=len(rec.locations),
    )
