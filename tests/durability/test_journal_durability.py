"""Acknowledged writes are in PostgreSQL; a Redis that lost its ledger is rebuilt before
the engine takes writes again."""

import asyncio

import asyncpg
import pytest

from atp import keys
from atp.model import LedgerUnavailable, StockResult
from atp.redis_io import RedisIO
from atp.stock import Stock
from durability.journal_cursor import advance
from durability.verify import verify
from engine.durable import DurableEngine
from reservations.model import Line, State


async def test_an_acknowledged_write_is_journaled_before_it_returns(
    db: asyncpg.Pool, jredis_url: str
) -> None:
    engine = await DurableEngine.open(jredis_url, db)
    try:
        outcome = await engine.stock.adjust("SKU-1", "S1", 5, "receipt", op_id="a-1")
        assert outcome.event_id is not None
        partition, ms, seq = (int(v) for v in outcome.event_id.split("-"))
        row = await db.fetchrow(
            "SELECT on_hand, op_id FROM ledger_events"
            " WHERE partition = $1 AND stream_ms = $2 AND stream_seq = $3",
            partition, ms, seq,
        )  # fmt: skip
        assert row is not None and tuple(row) == (5, "a-1")
        many = await asyncio.gather(
            *(engine.stock.adjust(f"SKU-{i}", "S2", i, "receipt") for i in range(1, 200))
        )
        assert all(o.ok for o in many)
        assert await db.fetchval("SELECT count(*) FROM ledger_events") == 200
        assert engine.durability.flushes < 200  # group commit: one flush per many writes
    finally:
        await engine.close()


async def test_writes_wait_for_a_rebuild_after_redis_lost_the_ledger(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    engine = await DurableEngine.open(jredis_url, db)
    try:
        await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
        lines = [Line("SKU-1", "S1", 2)]
        assert (await engine.reservations.reserve("R-1", "online", lines, 600)).ok
        assert (await engine.reservations.commit("R-1")).ok
        await rio.command("FLUSHDB")  # what a restart of a Redis without persistence does
        with pytest.raises(LedgerUnavailable):
            # Applied to an empty ledger, so never acknowledged; the rebuild wipes it.
            await engine.stock.adjust("SKU-1", "S1", 1, "receipt")
        for _ in range(100):
            if engine.ready:
                break
            await asyncio.sleep(0.05)
        assert engine.ready and engine.durability.rebuilds == 2  # the first built epoch 1
        position = await engine.availability.position("SKU-1", "S1")
        assert (position.on_hand, position.reserved) == (5, 2)
        again = await engine.stock.adjust("SKU-1", "S1", 1, "receipt")
        assert again.result is StockResult.applied and again.position.on_hand == 6
        done = await engine.reservations.fulfill("R-1")
        assert done.ok and done.reservation is not None
        assert done.reservation.state is State.fulfilled
        async with db.acquire() as conn:
            assert await verify(rio, conn) == []
    finally:
        await engine.close()


async def test_a_flush_that_lost_postgresql_is_journaled_by_the_next(
    db: asyncpg.Pool, jredis_url: str
) -> None:
    """Found by the fault run under load: a flush failing on a refused PostgreSQL
    connection (an OSError) made the process recover and skip its cursors to the streams'
    ends, so what that flush had read was never journaled, and a retry answered `duplicate`
    for a write PostgreSQL did not have. The same ledger keeps its cursors now."""
    engine = await DurableEngine.open(jredis_url, db)
    durability = engine.durability
    real_write = durability._write
    refused = asyncio.Event()

    async def refuse_once(batch: list[object]) -> None:
        if not refused.is_set():
            refused.set()
            raise ConnectionRefusedError("PostgreSQL is restarting")
        await real_write(batch)  # type: ignore[arg-type]

    durability._write = refuse_once  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionRefusedError):
            await engine.stock.adjust("SKU-1", "S1", 5, "receipt", op_id="a-1")
        for _ in range(100):
            if engine.ready:
                break
            await asyncio.sleep(0.05)
        retried = await engine.stock.adjust("SKU-1", "S1", 5, "receipt", op_id="a-1")
        assert retried.result is StockResult.duplicate
        rows = await db.fetch("SELECT on_hand FROM ledger_events WHERE op_id = 'a-1'")
        assert [r["on_hand"] for r in rows] == [5]  # journaled once the retry is answered
    finally:
        await engine.close()


async def test_workers_do_not_journal_each_other_s_events_again(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    """Two processes' group commits over one ledger: what one journaled (the shared
    journal cursor, durability/journal_cursor.py), the other's wait does not write again,
    and the cursor never moves back."""
    first = await DurableEngine.open(jredis_url, db)
    second = await DurableEngine.open(jredis_url, db)
    try:
        done = await first.stock.adjust("SKU-1", "S1", 5, "receipt")
        assert done.event_id is not None
        partition, stream_id = done.event_id.split("-", 1)
        assert first.durability.events_written == 1
        await first.durability.sync([int(partition)])  # shared with its next read round
        assert await rio.command("GET", keys.journal_cursor(int(partition))) == stream_id
        await second.durability.sync([int(partition)])  # the same event: already journaled
        assert second.durability.events_written == 0
        later = await second.stock.adjust("SKU-1", "S1", 2, "receipt")
        assert later.ok and second.durability.events_written == 1
        await second.durability.sync([int(partition)])
        await advance(rio, int(partition), "1-0")  # a slow process finishing late
        assert later.event_id is not None
        assert (
            await rio.command("GET", keys.journal_cursor(int(partition)))
            == (later.event_id.split("-", 1)[1])
        )
        assert await db.fetchval("SELECT count(*) FROM ledger_events") == 2
    finally:
        await first.close()
        await second.close()


async def test_a_process_started_later_does_not_move_the_shared_cursor_past_others_writes(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    """A process's first cursors were the streams' ends when it started: its first flush
    journaled from there and shared that point, and an older process whose write lay before
    it (applied, not yet flushed) then read from the shared cursor, skipped its own event
    and acknowledged it unjournaled. A new process starts from the shared cursor now."""
    older = await DurableEngine.open(jredis_url, db)
    try:
        applied = await Stock.adjust(older.stock, "SKU-1", "S1", 5, "receipt")  # not synced
        assert applied.event_id is not None
        partition = int(applied.event_id.split("-", 1)[0])
        newer = await DurableEngine.open(jredis_url, db)
        try:
            assert (await newer.stock.adjust("SKU-1", "S2", 1, "receipt")).ok
            await newer.durability.sync([partition])  # shares how far it journaled
        finally:
            await newer.close()
        await older.durability.sync([partition])  # the older write's acknowledgement
        journaled = await db.fetchval(
            "SELECT count(*) FROM ledger_events_by_id WHERE event_id = $1", applied.event_id
        )
        assert journaled == 1
    finally:
        await older.close()
