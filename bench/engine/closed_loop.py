"""Closed-loop load inside one event loop: N callers, each starting its next call as soon as
its last returns, every call timed with ``perf_counter_ns``.

The latency of a call at N callers includes its wait for the event loop, which is what a
caller of the engine experiences; throughput is calls over the wall time of the whole run.
"""

from __future__ import annotations  # array[int] in signatures (generic only from 3.12)

import asyncio
import gc
import itertools
from array import array
from collections.abc import Awaitable, Callable
from time import perf_counter_ns, process_time_ns

from bench.common.stats import NS_PER_S, Samples

# An operation gets a number never handed out before in this process (unique ids).
Op = Callable[[int], Awaitable[object]]

# Bounds the latency samples one caller keeps (8 bytes each) whatever the duration.
CALLS_PER_CALLER_MAX = 2_000_000

_numbers = itertools.count()


def next_number() -> int:
    return next(_numbers)


async def run(op: Op, callers: int, duration_s: float) -> Samples:
    """Runs ``op`` from ``callers`` tasks for ``duration_s``."""
    assert callers >= 1
    latencies: array[int] = array("q")
    deadline_ns = perf_counter_ns() + int(duration_s * NS_PER_S)

    async def caller() -> None:
        record = latencies.append
        for _ in range(CALLS_PER_CALLER_MAX):
            number = next(_numbers)
            started_ns = perf_counter_ns()
            await op(number)
            ended_ns = perf_counter_ns()
            record(ended_ns - started_ns)
            if ended_ns >= deadline_ns:
                return

    started_ns, cpu_started_ns = perf_counter_ns(), process_time_ns()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return Samples(latencies, perf_counter_ns() - started_ns, process_time_ns() - cpu_started_ns)


def settle_gc() -> None:
    """What setup and earlier runs left behind is frozen, so the cycle collector only walks
    what the timed calls themselves allocate."""
    gc.collect()
    gc.freeze()


async def measure(op: Op, callers: int, duration_s: float, warmup_s: float) -> Samples:
    """A discarded warm-up (connections opened, caches hot), then the timed run."""
    await run(op, callers, warmup_s)
    settle_gc()
    return await run(op, callers, duration_s)
