"""An event injector for the replica lag benchmark: the stream traffic of a reservation load
without the reservations.

Co-located writers cost this 2-core machine more CPU than it has (each hold and its settle
run several Lua scripts in Redis and ~0.7 ms of client CPU), so this isolates the replica:
it XADDs, on a fixed schedule, entries shaped like the ledger's (same fields; position
events on the benchmark's positions and header events with no sku) at the rate a given
reservation load produces them, pipelined per tick. The replica's work per entry is the same;
what is missing is Redis's script load (its event loop is shorter) and the writers' CPU.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from multiprocessing.connection import Connection

import msgspec
import uvloop

from atp import keys
from atp.events import SHORT
from atp.limits import EVENT_STREAM_MAXLEN, LEDGER_PARTITIONS
from atp.redis_io import PipelinedRedis
from bench.replica.writer import WriterResult

HEADER_SHARE = 0.35  # of the ledger's events: reservation header events (no sku)
# Stream entries per reservation of bench/replica/writer.py's mix, as measured (4.9-5.1):
# the hold and its settle, a header event each plus one per line.
EVENTS_PER_RESERVATION = 5.0
INJECTORS = 2  # processes, when not given
TICK_S = 0.001


class InjectPlan(msgspec.Struct, frozen=True):
    url: str
    index: int
    events_per_s: float
    warmup_s: float
    measure_s: float
    skus: list[str]
    locations: list[str]


class InjectResult(msgspec.Struct):
    index: int
    events_sent: int = 0  # due in the window
    cpu_core_share: float = 0.0


def _fields(rng: random.Random, plan: InjectPlan, n: int) -> tuple[int, list[str | int]]:
    """An entry as the scripts write it (atp/events.py: only what a reader cannot derive)."""
    ts = int(time.time() * 1000)
    values: dict[str, str | int] = {
        "type": "reservation_held", "ts_ms": ts, "reason": "online",
        "reservation_id": f"inj-{plan.index}-{n}",
    }  # fmt: skip
    if rng.random() < HEADER_SHARE:
        partition = rng.randrange(LEDGER_PARTITIONS)
    else:
        sku, loc = rng.choice(plan.skus), rng.choice(plan.locations)
        partition = keys.partition_of_sku(sku)
        values |= {
            "type": "reserved", "sku": sku, "location": loc, "d_reserved": 1,
            "on_hand": 1_000_000, "reserved": rng.randint(0, 9), "safety": 0, "incoming": 0,
        }  # fmt: skip
    return partition, [v for name, value in values.items() for v in (SHORT[name], value)]


async def _inject(plan: InjectPlan, conn: Connection) -> InjectResult:
    redis = PipelinedRedis.from_url(plan.url)
    await redis.command("PING")
    gc.collect()
    gc.freeze()
    conn.send("ready")
    start = float(conn.recv())
    begin = start + plan.warmup_s
    end = begin + plan.measure_s
    rng = random.Random(7_000 + plan.index)
    interval = 1 / plan.events_per_s
    result = InjectResult(plan.index)
    pending: set[asyncio.Future[object]] = set()
    n, cpu_at_begin = 0, None
    await asyncio.sleep(max(0.0, start - time.time()))
    while (now := time.time()) < end:
        if cpu_at_begin is None and now >= begin:
            cpu_at_begin = time.process_time()
        while (due := start + (n + plan.index / 7) * interval) <= now:
            partition, fields = _fields(rng, plan, n)
            stream = keys.stream(partition)
            sent = asyncio.ensure_future(
                redis.command("XADD", stream, "MAXLEN", "~", EVENT_STREAM_MAXLEN, "*", *fields)
            )
            pending.add(sent)
            sent.add_done_callback(pending.discard)
            result.events_sent += begin <= due < end
            n += 1
        await asyncio.sleep(TICK_S)
    cpu_s = time.process_time() - (cpu_at_begin or time.process_time())
    result.cpu_core_share = round(cpu_s / plan.measure_s, 3)
    if pending:
        await asyncio.wait(pending, timeout=5)
    await redis.close()
    return result


def as_writer_result(result: InjectResult) -> WriterResult:
    """Injected events counted as the reservations that would have made them."""
    equivalent = round(result.events_sent / EVENTS_PER_RESERVATION)
    return WriterResult(result.index, equivalent, equivalent, cpu_core_share=result.cpu_core_share)


def inject_main(plan_bytes: bytes, conn: Connection) -> None:
    """Process entry point, as bench/replica/writer.py's."""
    plan = msgspec.json.decode(plan_bytes, type=InjectPlan)
    conn.send(msgspec.json.encode(uvloop.run(_inject(plan, conn))))
    conn.close()
