"""Journal batches are fenced by the ledger epoch they were read under (durability/store.py).

The fault suite found it (issue 17): a group commit read a commit's entry from Redis, Redis
was lost, the other process rebuilt the ledger from PostgreSQL without it, and only then did
the batch reach the journal. The rebuilt ledger had the hold as held, the journal had it
committed; the retried commit was applied a second time and an acknowledged release was
lost. A batch read under an epoch that a rebuild has replaced is now refused, and a batch
waits for a rebuild that is running."""

import asyncio

import asyncpg
import pytest

from atp import keys
from atp.redis_io import RedisIO
from durability.limits import LOCK_REBUILD
from durability.rebuild import ensure_ledger
from durability.store import Entry, StaleEpoch, write_entries
from durability.streams import current_epoch, entries_of
from engine.local import Engine
from reservations.model import Line, State

SKU, WAREHOUSE = "FENCE-1", "W1"
LOCK_SEEN_TRIES = 200  # polls (10 ms apart) for the batch's lock request to show


async def _unjournaled(rio: RedisIO) -> list[Entry]:
    """Every entry of the SKU's stream and of the reservation's, as a flush reads them."""
    found: list[Entry] = []
    for partition in {keys.partition_of_sku(SKU), keys.partition_of_reservation("R-1")}:
        raw = await rio.command("XRANGE", keys.stream(partition), "-", "+")
        found += entries_of(partition, raw)[0]
    return found


async def _built(db: asyncpg.Pool, rio: RedisIO) -> str:
    """The ledger built (epoch 1 on an empty start); its epoch."""
    async with db.acquire() as conn:
        await ensure_ledger(rio, conn)
    epoch = await current_epoch(rio)
    assert epoch is not None
    return epoch


async def test_a_batch_read_before_a_rebuild_is_not_journaled_after_it(
    db: asyncpg.Pool, rio: RedisIO
) -> None:
    old_epoch = await _built(db, rio)
    engine = Engine(rio)
    await engine.stock.adjust(SKU, WAREHOUSE, 10, "receipt")
    assert (await engine.reservations.reserve("R-1", "online", [Line(SKU, WAREHOUSE, 3)])).ok
    read_before_the_loss = await _unjournaled(rio)
    assert read_before_the_loss
    await rio.command("FLUSHDB")  # Redis restarted empty; another process rebuilds
    async with db.acquire() as conn:
        assert await ensure_ledger(rio, conn) is not None
        with pytest.raises(StaleEpoch):
            await write_entries(conn, read_before_the_loss, old_epoch)
        assert await conn.fetchval("SELECT count(*) FROM ledger_events") == 0
        assert await conn.fetchval("SELECT count(*) FROM reservations") == 0
    # The rebuilt ledger and the journal agree: neither has the lost writes.
    assert await engine.reservations.get("R-1") is None
    position = await engine.availability.position(SKU, WAREHOUSE)
    assert (position.on_hand, position.reserved) == (0, 0)


async def test_a_batch_waits_for_a_running_rebuild_then_is_refused(
    db: asyncpg.Pool, pg_dsn: str, rio: RedisIO
) -> None:
    epoch = await _built(db, rio)
    engine = Engine(rio)
    assert (await engine.stock.adjust(SKU, WAREHOUSE, 5, "receipt")).position.on_hand == 5
    entries = await _unjournaled(rio)
    rebuilder = await asyncpg.connect(pg_dsn)
    try:
        await rebuilder.execute("SELECT pg_advisory_lock($1)", LOCK_REBUILD)

        async def batch() -> int:
            async with db.acquire() as conn:
                return await write_entries(conn, entries, epoch)

        writing = asyncio.create_task(batch())
        for _ in range(LOCK_SEEN_TRIES):
            waiting = await rebuilder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting == 1 and not writing.done()  # it waits for the rebuild
        # The rebuild ends: its complete ledger gets the next epoch, then the lock goes.
        await rebuilder.execute("INSERT INTO ledger_epochs (reason) VALUES ('test rebuild')")
        await rebuilder.execute("SELECT pg_advisory_unlock($1)", LOCK_REBUILD)
        with pytest.raises(StaleEpoch):
            await writing
    finally:
        await rebuilder.close()
    assert await db.fetchval("SELECT count(*) FROM ledger_events") == 0


async def test_a_batch_under_the_newest_epoch_is_journaled(db: asyncpg.Pool, rio: RedisIO) -> None:
    epoch = await _built(db, rio)
    engine = Engine(rio)
    await engine.stock.adjust(SKU, WAREHOUSE, 4, "receipt")
    assert (await engine.reservations.reserve("R-1", "online", [Line(SKU, WAREHOUSE, 1)])).ok
    entries = await _unjournaled(rio)
    async with db.acquire() as conn:
        assert await write_entries(conn, entries, epoch) == len(entries)
        held = await conn.fetchval("SELECT state FROM reservations WHERE id = 'R-1'")
    assert held == State.held.value
