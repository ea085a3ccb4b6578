"""A Redis that lost everything is rebuilt from the journal: positions, supply, live
reservations (still committable, fulfillable, releasable, expirable), receipts, groups."""

import asyncpg
import redis

from atp import keys
from atp.clock import ManualClock
from atp.model import StockResult
from atp.redis_io import RedisIO
from durability.rebuild import ensure_ledger, ledger_state
from durability.streams import EPOCH_KEY
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.local import Engine
from reservations.model import State, TransitionResult
from support.journal import mixed_ops


def snapshot(url: str) -> dict[str, object]:
    """Positions and incoming supply hashes, as Redis holds them."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        found: dict[str, object] = {}
        for pattern in ("atp:*:pos:*", "atp:*:inc:*"):
            for key in client.scan_iter(pattern, count=10_000):
                found[key] = client.hgetall(key)
        return found
    finally:
        client.close()


async def test_rebuild_restores_what_the_journal_has(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    clock = ManualClock()
    engine = Engine.connect(jredis_url, clock)
    try:
        async with db.acquire() as conn:
            await ensure_ledger(rio, conn)
        await create_groups(rio)
        await mixed_ops(engine, clock)
        await JournalWriter(rio, db, "w").drain()
        before = snapshot(jredis_url)
        held = await engine.reservations.get("R-held")
        part = await engine.reservations.get("R-part")
        await rio.command("FLUSHDB")
        async with db.acquire() as conn:
            assert await ledger_state(rio, conn) == "missing"
            report = await ensure_ledger(rio, conn)
            assert report is not None and report.reservations == 3
            assert await ledger_state(rio, conn) == "ok"
            assert await verify(rio, conn) == []
            replayed = await replay_positions(conn)
        assert snapshot(jredis_url) == before
        assert await rio.command("GET", EPOCH_KEY) == str(report.epoch)
        assert {k.split(":pos:")[1] for k in before if ":pos:" in k} == {
            f"{loc}:{sku}" for sku, loc in replayed
        }
        assert await engine.reservations.get("R-held") == held
        # Pooled connections are released without a reset (durability/db.py): the rebuild's
        # session lock must not outlive it.
        held_locks = await db.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        )
        assert held_locks == 0
        assert await engine.reservations.get("R-part") == part
        # A retried acknowledged adjustment is a duplicate, not a second receipt.
        retry = await engine.stock.adjust("SKU-3", "S1", 13, "receipt", op_id="op-3")
        assert retry.result is StockResult.duplicate and retry.position.on_hand == 13
        # Live reservations go on: a commit, a fulfillment, an expiry.
        assert (await engine.reservations.fulfill("R-part")).ok
        assert (await engine.reservations.commit("R-commit")).result is TransitionResult.duplicate
        assert (await engine.reservations.fulfill("R-commit")).ok
        clock.advance(700_000)
        await engine.sweeper.sweep_once()
        expired = await engine.reservations.get("R-held")
        assert expired is not None and expired.state is State.expired
        position = await engine.availability.position("SKU-4", "S1")
        assert (
            position.reserved == 0 and position.on_hand == 14 - 2 - 2 - 2
        )  # R-part, R-done, R-commit
        # New events sort after the journal's: the writer journals them as usual.
        await JournalWriter(rio, db, "w2").drain()
        async with db.acquire() as conn:
            assert await verify(rio, conn) == []
            await replay_positions(conn)
    finally:
        await engine.close()


async def test_a_redis_behind_the_journal_is_rebuilt(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    engine = Engine.connect(jredis_url, ManualClock())
    try:
        async with db.acquire() as conn:
            await ensure_ledger(rio, conn)
            await create_groups(rio)
            await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
            await JournalWriter(rio, db, "w").drain()
            # As if Redis came back from an old snapshot: epoch there, the change not.
            await rio.command("DEL", keys.stream(keys.partition_of_sku("SKU-1")))
            await rio.command("DEL", keys.position("SKU-1", "S1"))
            assert await ledger_state(rio, conn) == "behind"
            await rio.command("SET", "atp:{meta}:apikey:k1", "not the ledger's")
            await rio.command("SET", "atp:idem:k1:abc", "not the ledger's either")
            assert await ensure_ledger(rio, conn) is not None
            assert await rio.command("EXISTS", "atp:{meta}:apikey:k1", "atp:idem:k1:abc") == 2
        assert (await engine.availability.position("SKU-1", "S1")).on_hand == 5
    finally:
        await engine.close()


async def test_a_ledger_built_before_the_journal_is_adopted_not_wiped(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    engine = Engine.connect(jredis_url, ManualClock())
    try:
        await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
        async with db.acquire() as conn:
            assert await ensure_ledger(rio, conn) is None
        assert (await engine.availability.position("SKU-1", "S1")).on_hand == 5
        assert await rio.command("EXISTS", keys.position("SKU-1", "S1")) == 1
    finally:
        await engine.close()
