"""A hold whose legs reached the journal and whose header did not (issue 17: on a cluster the
master of the header died between the two scripts) was never acknowledged, yet its units are
in the journaled positions. A rebuild rolls those legs back, so the retry of the same hold
reserves once, and leaves every acknowledged hold alone."""

import asyncpg

from atp.clock import ManualClock
from atp.model import Channel
from atp.redis_io import RedisIO
from durability.history import reservation_from_journal
from durability.rebuild import ensure_ledger
from durability.verify import verify
from durability.writer import JournalWriter, create_groups
from engine.local import Engine
from reservations import calls
from reservations.model import Line, ReserveResult, lines_by_partition

SKU_A, SKU_B, STORE = "ORPHAN-A", "ORPHAN-B", "S1"
TTL_MS = 600_000


async def _reserved(engine: Engine, sku: str) -> int:
    return (await engine.availability.position(sku, STORE)).reserved


async def test_a_rebuild_rolls_back_legs_whose_header_never_was_journaled(
    db: asyncpg.Pool, rio: RedisIO
) -> None:
    engine = Engine(rio, ManualClock())
    async with db.acquire() as conn:
        await ensure_ledger(rio, conn)
    await create_groups(rio)
    for sku in (SKU_A, SKU_B):
        await engine.stock.adjust(sku, STORE, 10, "receipt")
    # An acknowledged hold beside it, which the rebuild must keep.
    kept = await engine.reservations.reserve("R-kept", "online", [Line(SKU_B, STORE, 1)])
    assert kept.ok
    # The coordinator's first step only (reservations/coordinator.py _reserve_by_legs): the
    # leg, never its header.
    leg = [Line(SKU_A, STORE, 3)]
    partition = next(iter(lines_by_partition(leg)))
    reply = await calls.reserve_leg(
        rio, "R-cut", "digest-of-the-attempt", Channel.online, partition, leg, TTL_MS, 0
    )
    assert reply.positions
    # An attempt refused after a leg was held (the cluster path rolls the leg back).
    refused = [Line(SKU_B, STORE, 2)]
    at = next(iter(lines_by_partition(refused)))
    await calls.reserve_leg(rio, "R-refused", "d", Channel.online, at, refused, TTL_MS, 0)
    await calls.leg_expire(rio, "R-refused", at, [(SKU_B, STORE)], "rolled_back", 0)
    await JournalWriter(rio, db, "w").drain()
    state = await db.fetchval("SELECT state FROM reservations WHERE id = 'R-cut'")
    assert state == "pending"
    assert await reservation_from_journal(db, "R-cut") is None  # never a reservation

    await rio.command("FLUSHDB")  # Redis lost; the journal has the leg's 3 units reserved
    async with db.acquire() as conn:
        report = await ensure_ledger(rio, conn)
    assert report is not None and report.orphans == 1
    pending = await db.fetch("SELECT id FROM reservations WHERE state = 'pending'")
    assert [r["id"] for r in pending] == ["R-cut"]  # the refused attempt's row is dropped
    assert await _reserved(engine, SKU_A) == 0
    assert await _reserved(engine, SKU_B) == 1  # the acknowledged hold stays
    assert (await engine.reservations.get("R-kept")) is not None

    # The client's retry of the hold it never got reserves once.
    retry = await engine.reservations.reserve("R-cut", "online", leg)
    assert retry.result is ReserveResult.reserved
    assert await _reserved(engine, SKU_A) == 3
    await JournalWriter(rio, db, "w").drain()
    async with db.acquire() as conn:
        assert await verify(rio, conn) == []
        # A second loss: nothing is orphaned any more, the hold is restored as held.
        await rio.command("FLUSHDB")
        report = await ensure_ledger(rio, conn)
    assert report is not None and report.orphans == 0
    assert await _reserved(engine, SKU_A) == 3
    restored = await engine.reservations.get("R-cut")
    assert restored is not None and restored.lines[0].open == 3
