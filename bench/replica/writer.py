"""One writer process of the replica lag benchmark: an open-loop, paced reservation load.

Hold number n of this writer is due at ``start + n / rate`` whatever happened to earlier
ones (a schedule, not a closed loop), so a slow call does not slow the offered load; how
late each hold started against its schedule is recorded, so a writer that could not keep up
shows as such. Each hold (1-3 lines, 1-3 units, distinct positions) is settled a little later:
mostly released, some committed, a few committed then fulfilled, so stock does not run out.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
from array import array
from collections.abc import Coroutine
from multiprocessing.connection import Connection
from typing import Any

import msgspec
import uvloop

from engine.local import Engine
from reservations.model import Line, ReserveResult

LINES_WEIGHTS = (0.5, 0.35, 0.15)  # holds of 1, 2 and 3 lines
SETTLE_AFTER_S = (0.2, 2.0)  # a hold is settled this long after it was made (uniform)
RELEASED, COMMITTED = 0.7, 0.2  # shares of settles; the rest is committed then fulfilled
INFLIGHT_MAX = 2_000  # holds not yet answered; beyond this the writer is overloaded
DRAIN_S = 5.0
HOLD_TTL_S = 120
TICK_S = 0.005  # the schedule is kept to this; fewer wake-ups leave the CPU to Redis


class WriterPlan(msgspec.Struct, frozen=True):
    url: str
    index: int
    rate_per_s: float
    warmup_s: float
    measure_s: float
    skus: list[str]
    locations: list[str]
    nice: int = 0  # added to this process's niceness: the load generator yields first


class WriterResult(msgspec.Struct):
    index: int
    holds_sent: int = 0  # in the measured window (by scheduled time)
    holds_ok: int = 0
    holds_refused: int = 0  # insufficient stock or a conflict
    errors: int = 0
    settles: int = 0
    skipped: int = 0  # holds not sent: INFLIGHT_MAX were outstanding
    window_s: float = 0.0
    late_ms_p50: float = 0.0  # how late a hold left against its schedule
    late_ms_p99: float = 0.0
    hold_ms_p50: float = 0.0  # a hold's call, sent to answered
    hold_ms_p99: float = 0.0
    cpu_core_share: float = 0.0  # this process over the window


def _pct(values: array[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] / 1e6


class _Writer:
    def __init__(self, plan: WriterPlan) -> None:
        self.plan = plan
        self.engine = Engine.connect(plan.url)
        self.rng = random.Random(1_000 + plan.index)
        self.begin = self.end = 0.0  # the measured window, wall clock (time.time)
        self.run_id = 0  # ids differ between runs: a repeated id is an idempotent retry
        self.result = WriterResult(plan.index)
        self.late_ns: array[int] = array("q")
        self.hold_ns: array[int] = array("q")
        self.inflight = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def _lines(self) -> list[Line]:
        count = self.rng.choices((1, 2, 3), LINES_WEIGHTS)[0]
        picked: dict[tuple[str, str], int] = {}
        while len(picked) < count:
            key = (self.rng.choice(self.plan.skus), self.rng.choice(self.plan.locations))
            picked[key] = self.rng.randint(1, 3)
        return [Line(sku, loc, qty) for (sku, loc), qty in picked.items()]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _hold(self, n: int, due: float, counted: bool) -> None:
        sent = time.time()
        rid = f"lag-{self.run_id}-{self.plan.index}-{n}"
        try:
            outcome = await self.engine.reservations.reserve(
                rid, "online", self._lines(), HOLD_TTL_S
            )
        except Exception:
            self.result.errors += counted
            return
        finally:
            self.inflight -= 1
        if counted:
            self.late_ns.append(int((sent - due) * 1e9))
            self.hold_ns.append(int((time.time() - sent) * 1e9))
            ok = outcome.result == ReserveResult.reserved
            self.result.holds_ok += ok
            self.result.holds_refused += not ok
        if outcome.result == ReserveResult.reserved:
            await asyncio.sleep(self.rng.uniform(*SETTLE_AFTER_S))
            await self._settle(rid, counted)

    async def _settle(self, rid: str, counted: bool) -> None:
        roll = self.rng.random()
        try:
            if roll < RELEASED:
                await self.engine.reservations.release(rid)
            else:
                await self.engine.reservations.commit(rid)
                if roll >= RELEASED + COMMITTED:
                    await self.engine.reservations.fulfill(rid)
        except Exception:
            self.result.errors += counted
            return
        self.result.settles += counted

    async def run(self, start: float) -> WriterResult:
        """``start`` is the wall-clock time (shared by every writer) the warm-up begins."""
        self.begin = start + self.plan.warmup_s
        self.run_id = int(start * 1000)
        self.end = self.begin + self.plan.measure_s
        interval = 1 / self.plan.rate_per_s
        # Writers start at staggered offsets so their holds interleave rather than bunch.
        n, cpu_at_begin = 0, None
        while (now := time.time()) < self.end:
            if cpu_at_begin is None and now >= self.begin:
                cpu_at_begin = time.process_time()
            while (due := start + (n + self.plan.index / 7) * interval) <= now:
                counted = self.begin <= due < self.end
                if self.inflight >= INFLIGHT_MAX:
                    self.result.skipped += counted
                else:
                    self.inflight += 1
                    self._spawn(self._hold(n, due, counted))
                    self.result.holds_sent += counted
                n += 1
            await asyncio.sleep(TICK_S)
        cpu_s = time.process_time() - (cpu_at_begin or time.process_time())
        self.result.cpu_core_share = round(cpu_s / self.plan.measure_s, 3)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=DRAIN_S)
        for task in list(self.tasks):
            task.cancel()
        self.result.window_s = self.plan.measure_s
        self.result.late_ms_p50 = _pct(self.late_ns, 50)
        self.result.late_ms_p99 = _pct(self.late_ns, 99)
        self.result.hold_ms_p50 = _pct(self.hold_ns, 50)
        self.result.hold_ms_p99 = _pct(self.hold_ns, 99)
        await self.engine.close()
        return self.result


def writer_main(plan_bytes: bytes, conn: Connection) -> None:
    """Process entry point: says ready, waits for the shared start time, runs, reports."""
    plan = msgspec.json.decode(plan_bytes, type=WriterPlan)
    if plan.nice:
        os.nice(plan.nice)

    async def main() -> WriterResult:
        writer = _Writer(plan)
        await writer.engine.redis.command("PING")  # connected before the clock starts
        gc.collect()
        gc.freeze()
        conn.send("ready")
        start = float(conn.recv())
        return await writer.run(start)

    conn.send(msgspec.json.encode(uvloop.run(main())))
    conn.close()
