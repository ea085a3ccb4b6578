"""Fault tests: Redis SIGKILLed under load, the journal writer killed mid-batch."""

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.redis_connect import connect
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.durable import DurableEngine
from reservations.model import Line
from support.invariants_ledger import positions_in_redis
from support.journal import PrivateRedis, free_port

pytestmark = [pytest.mark.slow, pytest.mark.servers]
_ROOT = str(Path(__file__).resolve().parents[2])  # the repository, for the writer subprocess

LOAD_S = 6.0
KILL_AT_S = 2.0
DOWN_S = 0.5
SKUS = 20


@pytest.fixture
async def jredis_server() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


class Acked:
    def __init__(self) -> None:
        self.adjust_ops: list[str] = []
        self.steps: dict[str, str] = {}  # reservation id -> last acknowledged step
        self.failures = 0


async def stock_worker(engine: DurableEngine, w: int, acked: Acked, until: float) -> None:
    i = 0
    while time.monotonic() < until:
        op = f"adj-{w}-{i}"
        i += 1
        try:
            out = await engine.stock.adjust(f"SKU-{i % SKUS}", "S1", 1, "receipt", op_id=op)
        except Exception:  # refused or lost: not acknowledged, so the caller may retry
            acked.failures += 1
            await asyncio.sleep(0.02)
            continue
        if out.ok:
            acked.adjust_ops.append(op)


async def order_worker(engine: DurableEngine, w: int, acked: Acked, until: float) -> None:
    res, i = engine.reservations, 0
    while time.monotonic() < until:
        rid = f"R-{w}-{i}"
        i += 1
        line = [Line(f"SKU-{i % SKUS}", "W1", 1)]
        try:
            if not (await res.reserve(rid, "online", line, 600)).ok:
                continue
            acked.steps[rid] = "held"
            if (await res.commit(rid)).ok:
                acked.steps[rid] = "committed"
            if i % 3 == 0:
                continue  # leave some committed
            settle = res.fulfill if i % 3 == 1 else res.release
            if (await settle(rid)).ok:
                acked.steps[rid] = "fulfilled" if i % 3 == 1 else "released"
        except Exception:
            acked.failures += 1
            await asyncio.sleep(0.02)


async def test_redis_sigkill_loses_no_acknowledged_write(
    db: asyncpg.Pool, jredis_server: PrivateRedis
) -> None:
    engine = await DurableEngine.open(jredis_server.url, db, replica=True)
    assert engine.replica is not None
    await engine.replica.start()
    for s in range(SKUS):
        await engine.stock.adjust(f"SKU-{s}", "W1", 1_000_000, "receipt")
    acked = Acked()
    until = time.monotonic() + LOAD_S
    workers = [stock_worker(engine, w, acked, until) for w in range(4)]
    workers += [order_worker(engine, w, acked, until) for w in range(4)]
    load = asyncio.gather(*workers)
    await asyncio.sleep(KILL_AT_S)
    before_kill = len(acked.adjust_ops)
    jredis_server.kill()
    await asyncio.sleep(DOWN_S)
    jredis_server.start()  # empty: it kept nothing on disk
    await load
    assert engine.ready and engine.durability.rebuilds >= 2
    # The replica saw Redis come back empty and rebuilt: it reloaded, and mirrors it again.
    await _replica_mirrors_redis(engine)
    assert engine.replica.loads >= 2
    await engine.close()
    assert before_kill > 0 and len(acked.adjust_ops) > before_kill  # load ran on both sides
    assert acked.failures > 0  # and the outage was felt

    redis = connect(jredis_server.url)
    try:
        await JournalWriter(redis, db, "final").drain()  # sweeper events, if any
        journaled = {
            r["op_id"]
            for r in await db.fetch("SELECT op_id FROM ledger_events WHERE type = 'adjusted'")
        }
        assert set(acked.adjust_ops) <= journaled
        receipts = await asyncio.gather(
            *(redis.command("EXISTS", f"atp:{{p{p:02d}}}:op:{op}") for op, p in _op_parts(acked))
        )
        assert all(receipts)  # a retry of any acknowledged adjustment is a duplicate
        states = {r["id"]: r["state"] for r in await db.fetch("SELECT id, state FROM reservations")}
        for rid, step in acked.steps.items():
            assert _rank(states.get(rid, "")) >= _rank(step), (rid, step, states.get(rid))
        async with db.acquire() as conn:
            assert await verify(redis, conn) == []
            replayed = await replay_positions(conn)
            projected = {
                (r["sku"], r["location"]): (r["on_hand"], r["reserved"], r["safety"], r["incoming"])
                for r in await conn.fetch("SELECT * FROM positions")
            }
        assert replayed == projected
    finally:
        await redis.close()


REPLICA_WAIT_S = 10.0


async def _replica_mirrors_redis(engine: DurableEngine) -> None:
    replica = engine.replica
    assert replica is not None
    for _ in range(int(REPLICA_WAIT_S / 0.05)):  # the reload after the rebuild: bounded wait
        if replica.ready:
            break
        await asyncio.sleep(0.05)
    tips = []
    for partition in range(LEDGER_PARTITIONS):
        last = await engine.redis.command("XREVRANGE", keys.stream(partition), "+", "-", "COUNT", 1)
        if last:
            tips.append((partition, last[0][0]))
    assert await replica.caught_up(tips, REPLICA_WAIT_S)
    in_redis = await positions_in_redis(engine.redis)
    assert in_redis
    for (sku, location), values in in_redis.items():
        assert list(replica.positions.get(sku, location)[:4]) == values, (sku, location)


def _op_parts(acked: Acked) -> list[tuple[str, int]]:
    from atp.keys import partition_of_sku

    parts = []
    for op in acked.adjust_ops:
        i = int(op.rsplit("-", 1)[1]) + 1
        parts.append((op, partition_of_sku(f"SKU-{i % SKUS}")))
    return parts


def _rank(state: str) -> int:
    return {"held": 1, "committed": 2, "fulfilled": 3, "released": 3}.get(state, 0)


_WRITER = """
import asyncio, sys
import asyncpg
from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.redis_connect import connect
from durability.writer import JournalWriter

async def main():
    pool = await asyncpg.create_pool(sys.argv[1], min_size=1, max_size=2)
    writer = JournalWriter(connect(sys.argv[2]), pool, "doomed", batch_max=64)
    while True:
        await writer.step()

asyncio.run(main())
"""


async def test_journal_writer_killed_mid_batch_loses_and_duplicates_nothing(
    db: asyncpg.Pool, pg_dsn: str, jredis_server: PrivateRedis, tmp_path: Path
) -> None:
    redis = connect(jredis_server.url)
    engine = await DurableEngine.open(jredis_server.url, db)
    try:
        await engine.close()  # the ledger exists (epoch); writes below bypass the group commit
        from engine.local import Engine

        plain = Engine.connect(jredis_server.url)
        await create_groups(redis)
        await asyncio.gather(
            *(plain.stock.adjust(f"SKU-{i % 500}", "S1", 1, "receipt") for i in range(20_000))
        )
        script = tmp_path / "writer.py"
        script.write_text(_WRITER)
        env = {**os.environ, "PYTHONPATH": _ROOT}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), pg_dsn, jredis_server.url, env=env
        )
        try:
            for _ in range(200):  # kill it while it is busy: some written, some not
                count = await db.fetchval("SELECT count(*) FROM ledger_events")
                if count > 2_000:
                    break
                await asyncio.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
        partial = await db.fetchval("SELECT count(*) FROM ledger_events")
        assert 0 < partial < 20_000
        pending = await redis.command("XPENDING", "atp:{p00}:events", "journal")
        # The survivor takes over the dead consumer's pending entries and the rest.
        survivor = JournalWriter(redis, db, "survivor", claim_idle_ms=1)
        await asyncio.sleep(0.01)
        await survivor.drain()
        await survivor.drain()
        assert await db.fetchval("SELECT count(*) FROM ledger_events") == 20_000
        assert survivor.read_total >= 20_000 - partial  # re-read entries wrote nothing twice
        for p in range(32):
            summary = await redis.command("XPENDING", f"atp:{{p{p:02d}}}:events", "journal")
            assert int(summary[0]) == 0, (p, summary, pending)
        async with db.acquire() as conn:
            assert await verify(redis, conn) == []
            await replay_positions(conn)
        await plain.close()
    finally:
        await redis.close()
