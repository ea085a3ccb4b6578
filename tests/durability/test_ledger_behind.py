"""A ledger that lost journaled events and took writes since is *behind* (issue 17): a
replica promoted before replication brought its master's last entries has the epoch and
every copy of it, and its streams' last ids may be newer than the journal's; what gives it
away is that a stream no longer holds its partition's newest journaled event
(durability/streams.py ``still_holds``). Simulated on one Redis by deleting that entry."""

import asyncio

import asyncpg
import pytest

from atp import keys
from atp.model import LedgerUnavailable
from atp.redis_io import RedisIO
from durability.group_commit import acknowledged
from durability.rebuild import ensure_ledger, ledger_state
from durability.writer import JournalWriter
from engine.durable import start_durability
from engine.local import Engine

SKU, STORE = "A", "S1"
REBUILD_POLLS = 250  # 20 ms apart


async def _journaled_receipts(rio: RedisIO, db: asyncpg.Pool, count: int) -> str:
    """``count`` receipts, journaled; returns the newest entry's id."""
    engine = Engine(rio)
    for _ in range(count):
        await engine.stock.adjust(SKU, STORE, 1, "receipt")
    await JournalWriter(rio, db, "w").drain()
    newest = await rio.command("XREVRANGE", keys.stream(keys.partition_of_sku(SKU)), "+", "-")
    return str(newest[0][0])


async def test_a_stream_without_the_newest_journaled_event_is_behind(
    db: asyncpg.Pool, rio: RedisIO
) -> None:
    async with db.acquire() as conn:
        await ensure_ledger(rio, conn)
        newest = await _journaled_receipts(rio, db, 3)
        await rio.command("XDEL", keys.stream(keys.partition_of_sku(SKU)), newest)
        assert await ledger_state(rio, conn) == "ok"  # the last id still says it was there
        await Engine(rio).stock.adjust(SKU, STORE, 1, "receipt")  # not durable: never journaled
        assert await ledger_state(rio, conn) == "behind"
        report = await ensure_ledger(rio, conn)
        assert report is not None and report.reason == "ledger behind"
    # The journal's three receipts, not the ledger that lost one and took another.
    assert (await Engine(rio).availability.position(SKU, STORE)).on_hand == 3


async def test_newer_writes_after_the_journal_are_not_behind(
    db: asyncpg.Pool, rio: RedisIO
) -> None:
    async with db.acquire() as conn:
        await ensure_ledger(rio, conn)
        await _journaled_receipts(rio, db, 3)
        await Engine(rio).stock.adjust(SKU, STORE, 1, "receipt")
        assert await ledger_state(rio, conn) == "ok"
        assert await ensure_ledger(rio, conn) is None


async def test_a_flush_finds_the_hole_without_any_error_and_the_ledger_is_rebuilt(
    db: asyncpg.Pool, rio: RedisIO
) -> None:
    """A takeover no command of this process saw fail (issue 17): the next flush's read
    begins after an entry the stream no longer holds (durability/lua/journal_read.lua), so
    the write waiting on it is refused, the ledger found behind and rebuilt."""
    engine = Engine(rio)
    durability = await start_durability(rio, db)
    rebuilds = durability.rebuilds  # the first start builds the ledger
    try:
        for _ in range(3):
            await acknowledged(durability, lambda: engine.stock.adjust(SKU, STORE, 1, "receipt"))
        stream = keys.stream(keys.partition_of_sku(SKU))
        newest = await rio.command("XREVRANGE", stream, "+", "-", "COUNT", 1)
        await rio.command("XDEL", stream, str(newest[0][0]))  # journaled, then lost
        await engine.stock.adjust(SKU, STORE, 1, "receipt")  # the new master took a write
        with pytest.raises(LedgerUnavailable):
            await acknowledged(durability, lambda: engine.stock.adjust(SKU, STORE, 1, "receipt"))
        for _ in range(REBUILD_POLLS):
            if durability.rebuilds > rebuilds and durability.healthy:
                break
            await asyncio.sleep(0.02)
        assert durability.rebuilds == rebuilds + 1 and durability.healthy
        assert (await engine.availability.position(SKU, STORE)).on_hand == 3  # the journal's
        await acknowledged(durability, lambda: engine.stock.adjust(SKU, STORE, 1, "receipt"))
    finally:
        await durability.stop()
