"""The replica under test, in a process of its own (as in an API worker).

It loads the ledger with the engine's own Replica and follows the streams with its own
loop, untouched; two thin wrappers (on the tail connection's ``command`` and on
``_read_once``) note when each XREAD reply arrived and when it had been applied. The lag of
an event is the time it became visible to reads here (its whole reply applied) minus the
millisecond in its stream id (Redis's clock, the same machine clock). The wrappers' own CPU
is measured and taken off the replica's.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import pstats
import time
from array import array
from multiprocessing.connection import Connection
from typing import Any

import msgspec
import uvloop

from atp.replica import Replica
from bench.replica.profile import ApplyCost, apply_costs
from engine.local import Engine

CAPTURE_REPLIES_MAX = 200  # XREAD replies kept for the apply-path profile
PROFILE_TOP = 25


class TailPlan(msgspec.Struct, frozen=True):
    url: str
    warmup_s: float
    measure_s: float
    cprofile: bool = False


class TailResult(msgspec.Struct):
    load_s: float
    events: int  # applied in the window
    reads: int  # XREAD replies with entries in the window
    reply_entries_max: int  # applied in one go: the event loop does nothing else meanwhile
    lag_us: bytes  # array('q'): per event, microseconds
    apply_us: bytes  # array('q'): per reply, arrived -> applied
    arrival_lag_us: bytes  # array('q'): per event, stream id ms -> its reply in hand
    cpu_core_share: float  # the replica process over the window, bookkeeping taken off
    bookkeeping_core_share: float
    engine_lag_p99_ms: float  # what Replica.lag_ms itself says (reply arrival, not applied)
    costs: ApplyCost | None = None
    cprofile_top: str = ""


class _Recorder:
    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.recording = False
        self.reply: Any = None
        self.arrived_ms = self.applied_ms = 0.0
        self.lag_us: array[int] = array("q")
        self.apply_us: array[int] = array("q")
        self.arrival_lag_us: array[int] = array("q")
        self.events = self.reads = self.reply_entries_max = 0
        self.bookkeeping_ns = 0
        self.captured: list[Any] = []
        tail_command = replica.tail.command
        read_once = replica._read_once
        check_ready = replica._check_ready

        def applied() -> None:  # both tail loops call it right after applying a reply
            self.applied_ms = time.time() * 1000
            check_ready()

        async def command(*args: Any) -> Any:
            reply = await tail_command(*args)
            self.arrived_ms = time.time() * 1000
            self.reply = reply
            return reply

        async def timed_read_once() -> int:
            self.reply = None
            applied = await read_once()
            if applied and self.recording:
                self._note(applied)
            return applied

        setattr(replica.tail, "command", command)  # noqa: B010 - an instance-level wrapper
        setattr(replica, "_read_once", timed_read_once)  # noqa: B010
        setattr(replica, "_check_ready", applied)  # noqa: B010

    def _note(self, applied: int) -> None:
        done_ms = self.applied_ms
        started = time.thread_time_ns()
        self.reads += 1
        self.events += applied
        self.reply_entries_max = max(self.reply_entries_max, applied)
        self.apply_us.append(int((done_ms - self.arrived_ms) * 1000))
        lag_us, arrival_us, arrived_ms = self.lag_us, self.arrival_lag_us, self.arrived_ms
        for _, entries in self.reply:
            for stream_id, _ in entries:
                ms = int(stream_id[: stream_id.index("-")])
                lag_us.append(int((done_ms - ms) * 1000))
                arrival_us.append(int((arrived_ms - ms) * 1000))
        if len(self.captured) < CAPTURE_REPLIES_MAX:
            self.captured.append(self.reply)
        self.bookkeeping_ns += time.thread_time_ns() - started


async def _until(wall_s: float) -> None:
    await asyncio.sleep(max(0.0, wall_s - time.time()))


async def _run(plan: TailPlan, conn: Connection) -> TailResult:
    engine = Engine.connect(plan.url, replica=True)
    started = time.perf_counter()
    await engine.start_replica()
    load_s = time.perf_counter() - started
    replica = engine.replica
    assert replica is not None
    gc.collect()
    gc.freeze()  # as the API worker does after start-up
    recorder = _Recorder(replica)
    conn.send("ready")
    start = float(await asyncio.get_running_loop().run_in_executor(None, conn.recv))
    await _until(start + plan.warmup_s)
    profiler = cProfile.Profile() if plan.cprofile else None
    cpu_started = time.process_time()
    replica.lag_ms.clear()
    recorder.recording = True
    if profiler is not None:
        profiler.enable()
    await _until(start + plan.warmup_s + plan.measure_s)
    if profiler is not None:
        profiler.disable()
    recorder.recording = False
    cpu_s = time.process_time() - cpu_started
    engine_lags = sorted(replica.lag_ms)
    await engine.close()  # the tail stops before its state is used for profiling
    bookkeeping_s = recorder.bookkeeping_ns / 1e9
    top = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(PROFILE_TOP)
        top = out.getvalue()
    return TailResult(
        load_s=round(load_s, 2),
        events=recorder.events,
        reads=recorder.reads,
        reply_entries_max=recorder.reply_entries_max,
        lag_us=recorder.lag_us.tobytes(),
        apply_us=recorder.apply_us.tobytes(),
        arrival_lag_us=recorder.arrival_lag_us.tobytes(),
        cpu_core_share=round((cpu_s - bookkeeping_s) / plan.measure_s, 3),
        bookkeeping_core_share=round(bookkeeping_s / plan.measure_s, 3),
        engine_lag_p99_ms=(engine_lags[int(0.99 * (len(engine_lags) - 1))] if engine_lags else 0.0),
        costs=apply_costs(replica, recorder.captured) if recorder.captured else None,
        cprofile_top=top,
    )


def tail_main(plan_bytes: bytes, conn: Connection) -> None:
    """Process entry point: loads, says ready, waits for the shared start, reports."""
    plan = msgspec.json.decode(plan_bytes, type=TailPlan)
    result = uvloop.run(_run(plan, conn))
    conn.send(msgspec.msgpack.encode(result))
    conn.close()
