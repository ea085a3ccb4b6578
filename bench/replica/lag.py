"""Replica lag under a paced write load: the replica in one process, writers in others.

The writers (bench/replica/writer.py, spawned, each with its own Engine and event loop)
offer a fixed rate of reservations on a schedule; the replica (bench/replica/tail.py) loads
whatever ledger Redis holds and follows it. All share one wall-clock start: a warm-up, then
the measured window. Every process started here is ended here, by its own handle (pid).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import time
from array import array
from multiprocessing.process import BaseProcess

import msgspec

from atp import keys
from atp.redis_io import PipelinedRedis
from bench.common.machine import BusyProcess, cpu_snapshot, load_average
from bench.replica.inject import (
    EVENTS_PER_RESERVATION,
    INJECTORS,
    InjectPlan,
    InjectResult,
    as_writer_result,
    inject_main,
)
from bench.replica.procs import recv, run_queue_ns, shares_of, start_process, stop, to_bytes
from bench.replica.profile import ApplyCost
from bench.replica.tail import TailPlan, TailResult, tail_main
from bench.replica.writer import WriterPlan, WriterResult, writer_main

HOLDS_PER_WRITER_PER_S = 1_000  # a writer process's share when not given (fewer contend less)
LAG_ON_HAND = 1_000_000  # per position: thousands of 1-3 unit holds never run it out
SEED_CHUNK = 5_000
START_MARGIN_S = 0.5  # between handing out the start time and the start
READY_TIMEOUT_S = 300.0  # the replica loads a million positions first
RESULT_MARGIN_S = 60.0


class LagConfig(msgspec.Struct, frozen=True):
    url: str
    rate_per_s: float = 2_000
    writers: int = 0  # 0: one per HOLDS_PER_WRITER_PER_S of the rate
    warmup_s: float = 5.0
    measure_s: float = 15.0
    skus: int = 5_000
    locations: int = 20
    cprofile: bool = False
    # reservations: writers through the Engine; events: their stream entries injected
    load: str = "reservations"
    writer_nice: int = 0  # niceness added to the writer processes


class LagResult(msgspec.Struct):
    load: str
    rate_target_per_s: float
    writers: int
    measure_s: float
    positions_written: int
    replica_load_s: float
    holds_per_s: float  # answered holds (reserved or refused) due in the window
    holds_refused: int
    write_errors: int
    holds_skipped: int  # a writer had too many outstanding to send them
    settles_per_s: float
    writer_late_ms_p99: float  # worst writer: how late a hold left against its schedule
    hold_ms_p50: float  # median writer's median
    hold_ms_p99: float  # worst writer's p99
    events: int
    events_per_s: float
    reads_per_s: float  # XREAD replies with entries
    reply_entries_max: int
    lag_ms_p50: float
    lag_ms_p95: float
    lag_ms_p99: float
    lag_ms_max: float
    apply_ms_p99: float  # per reply, arrived -> applied
    engine_lag_ms_p99: float
    replica_core_share: float
    bookkeeping_core_share: float
    writers_core_share: float
    redis_core_share: float
    others_core_share: float  # everything not started here (other engineers' work)
    busy_others: list[BusyProcess]
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float]
    costs: ApplyCost | None
    cprofile_top: str
    lag_to_arrival_ms_p99: float  # stream id ms -> XREAD reply in hand (Redis, scheduling)
    # Seconds per second spent runnable but waiting for a CPU (the machine is shared).
    redis_run_queue_wait: float = 0.0  # Redis main thread
    replica_run_queue_wait: float = 0.0
    writers_run_queue_wait: float = 0.0  # all writer processes' main threads


def _pct_ms(ordered: array[int] | list[int], q: float) -> float:
    if not ordered:
        return 0.0
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] / 1000, 2)


async def _seed(url: str, skus: list[str], locations: list[str]) -> None:
    redis = PipelinedRedis.from_url(url)
    pending = []
    for sku in skus:
        for loc in locations:
            key = keys.position(sku, loc)
            pending.append(redis.command("HSET", key, "oh", LAG_ON_HAND, "rs", 0, "sf", 0, "in", 0))
            if len(pending) >= SEED_CHUNK:
                await asyncio.gather(*pending)
                pending = []
    await asyncio.gather(*pending)
    await redis.close()


def _plans(
    config: LagConfig, writers: int, skus: list[str], locations: list[str]
) -> list[WriterPlan] | list[InjectPlan]:
    c = config
    if c.load == "events":
        rate = c.rate_per_s * EVENTS_PER_RESERVATION / writers
        return [
            InjectPlan(c.url, i, rate, c.warmup_s, c.measure_s, skus, locations)
            for i in range(writers)
        ]
    rate = c.rate_per_s / writers
    return [
        WriterPlan(c.url, i, rate, c.warmup_s, c.measure_s, skus, locations, c.writer_nice)
        for i in range(writers)
    ]


def _writer_result(config: LagConfig, message: bytes) -> WriterResult:
    if config.load == "events":
        return as_writer_result(msgspec.json.decode(message, type=InjectResult))
    return msgspec.json.decode(message, type=WriterResult)


async def measure(config: LagConfig, redis_pid: int) -> LagResult:
    per_writer = HOLDS_PER_WRITER_PER_S
    if config.load == "events":
        writers = config.writers or INJECTORS
    else:
        writers = config.writers or max(1, math.ceil(config.rate_per_s / per_writer))
    skus = [f"LAG-{s:05d}" for s in range(config.skus)]
    locations = [f"W{n:02d}" for n in range(config.locations)]
    await _seed(config.url, skus, locations)
    ctx = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = []
    try:
        tail_plan = TailPlan(config.url, config.warmup_s, config.measure_s, config.cprofile)
        tail, tail_conn = start_process(ctx, tail_main, msgspec.json.encode(tail_plan))
        processes.append(tail)
        await recv(tail_conn, READY_TIMEOUT_S)
        conns = []
        for plan in _plans(config, writers, skus, locations):
            target = inject_main if config.load == "events" else writer_main
            process, conn = start_process(ctx, target, msgspec.json.encode(plan))
            processes.append(process)
            conns.append(conn)
        for conn in conns:
            await recv(conn, READY_TIMEOUT_S)
        start = time.time() + START_MARGIN_S
        for conn in [tail_conn, *conns]:
            conn.send(str(start))
        await asyncio.sleep(max(0.0, start + config.warmup_s - time.time()))
        replica_pid = tail.pid or 0
        writer_pids = [p.pid or 0 for p in processes[1:]]
        groups = ([redis_pid], [replica_pid], writer_pids)
        load_start, before = load_average(), cpu_snapshot()
        waits = [run_queue_ns(g) for g in groups]
        await asyncio.sleep(max(0.0, start + config.warmup_s + config.measure_s - time.time()))
        load_end, after = load_average(), cpu_snapshot()
        waited = [
            round((run_queue_ns(g) - w) / 1e9 / config.measure_s, 3)
            for g, w in zip(groups, waits, strict=True)
        ]
        shares = shares_of(before, after, redis_pid, replica_pid, writer_pids)
        wait_s = RESULT_MARGIN_S + config.measure_s
        tail_result = msgspec.msgpack.decode(
            to_bytes(await recv(tail_conn, wait_s)), type=TailResult
        )
        results = [_writer_result(config, to_bytes(await recv(c, wait_s))) for c in conns]
    finally:
        stop(processes)
    lag = _result(config, writers, tail_result, results, shares, (load_start, load_end))
    lag.redis_run_queue_wait, lag.replica_run_queue_wait, lag.writers_run_queue_wait = waited
    return lag


def _result(
    config: LagConfig,
    writers: int,
    tail: TailResult,
    results: list[WriterResult],
    shares: tuple[float, float, float, float, list[BusyProcess]],
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> LagResult:
    window = config.measure_s
    lags = array("q")
    lags.frombytes(tail.lag_us)
    ordered = sorted(lags)
    applies = array("q")
    applies.frombytes(tail.apply_us)
    arrivals = array("q")
    arrivals.frombytes(tail.arrival_lag_us)
    hold_p50s = sorted(r.hold_ms_p50 for r in results)
    _, writers_share, redis_share, others, busy = shares
    return LagResult(
        load=config.load,
        rate_target_per_s=config.rate_per_s,
        writers=writers,
        measure_s=window,
        positions_written=config.skus * config.locations,
        replica_load_s=tail.load_s,
        holds_per_s=round(sum(r.holds_ok + r.holds_refused for r in results) / window, 1),
        holds_refused=sum(r.holds_refused for r in results),
        write_errors=sum(r.errors for r in results),
        holds_skipped=sum(r.skipped for r in results),
        settles_per_s=round(sum(r.settles for r in results) / window, 1),
        writer_late_ms_p99=round(max(r.late_ms_p99 for r in results), 2),
        hold_ms_p50=round(hold_p50s[len(hold_p50s) // 2], 2),
        hold_ms_p99=round(max(r.hold_ms_p99 for r in results), 2),
        events=tail.events,
        events_per_s=round(tail.events / window, 1),
        reads_per_s=round(tail.reads / window, 1),
        reply_entries_max=tail.reply_entries_max,
        lag_ms_p50=_pct_ms(ordered, 50),
        lag_ms_p95=_pct_ms(ordered, 95),
        lag_ms_p99=_pct_ms(ordered, 99),
        lag_ms_max=_pct_ms(ordered, 100),
        apply_ms_p99=_pct_ms(sorted(applies), 99),
        engine_lag_ms_p99=round(tail.engine_lag_p99_ms, 2),
        replica_core_share=tail.cpu_core_share,  # its own clock, bookkeeping taken off
        bookkeeping_core_share=tail.bookkeeping_core_share,
        writers_core_share=round(writers_share, 2),
        redis_core_share=redis_share,
        others_core_share=others,
        busy_others=busy,
        load_average_start=loads[0],
        load_average_end=loads[1],
        costs=tail.costs,
        cprofile_top=tail.cprofile_top,
        lag_to_arrival_ms_p99=_pct_ms(sorted(arrivals), 99),
    )
