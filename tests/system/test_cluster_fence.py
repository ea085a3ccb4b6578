"""The per-partition fence on a private 3-master cluster (durability/fence.py): one master
that does not hold ``{meta}`` is SIGKILLed and started again empty, the ledger's epoch
intact on another master. Its partitions' copies of the epoch went with it, so the engine
refuses every write (on any master) until the ledger is rebuilt from PostgreSQL; the
rebuild restores every acknowledged write, and every write sent again with its ids is a
duplicate (nothing applied twice). The same copies on a single Redis: a ledger set up
before they existed gets them without a rebuild, and a copy lost while writes flow to
other partitions is found all the same."""

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from atp import keys
from atp.model import LedgerUnavailable, StockResult
from atp.redis_connect import connect
from atp.redis_io import RedisIO
from durability.rebuild import ensure_ledger, ledger_state
from durability.streams import PARTITION_EPOCH_KEYS, current_epoch
from durability.verify import verify
from durability.writer import JournalWriter
from engine.durable import DurableEngine
from engine.local import Engine
from reservations.model import Line, ReserveResult, State, TransitionResult
from support.cluster_faults import (
    master_without_meta,
    partitions_on,
    rebuild_held,
    restart_empty,
)
from support.servers import PrivateCluster

pytestmark = [pytest.mark.servers]

SKUS = [f"FN-{i}" for i in range(24)]  # spread over every master
STORE, WAREHOUSE = "S1", "W1"
RECEIVED = 40
POLL_S, WAIT_S = 0.05, 15.0
TTL_S = 3_600


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(int(WAIT_S / POLL_S)):
        if condition():
            return
        await asyncio.sleep(POLL_S)
    assert condition()


async def _acknowledged_writes(engine: DurableEngine) -> None:
    """Receipts at every position, then reservations across masters: one committed and
    partly fulfilled, one held, one released. Each call returned: each is durable."""
    for sku in SKUS:
        for location in (STORE, WAREHOUSE):
            done = await engine.stock.adjust(
                sku, location, RECEIVED, "receipt", op_id=f"r-{sku}-{location}"
            )
            assert done.result is StockResult.applied
    lines = [Line(sku, STORE, 2) for sku in SKUS[:8]]
    assert (await engine.reservations.reserve("R-commit", "online", lines, TTL_S)).ok
    assert (await engine.reservations.commit("R-commit")).ok
    part = [Line(SKUS[0], STORE, 1), Line(SKUS[5], STORE, 2)]
    assert (await engine.reservations.fulfill("R-commit", part, op_id="ship-1")).ok
    assert (
        await engine.reservations.reserve(
            "R-held", "online", [Line(s, WAREHOUSE, 3) for s in SKUS[8:16]], TTL_S
        )
    ).ok
    assert (
        await engine.reservations.reserve(
            "R-gone", "online", [Line(s, STORE, 1) for s in SKUS[16:]], TTL_S
        )
    ).ok
    assert (await engine.reservations.release("R-gone")).ok


async def _ledger(engine: DurableEngine) -> dict[tuple[str, str], tuple[int, int]]:
    rows = await engine.availability.positions(SKUS, [STORE, WAREHOUSE])
    return {(p.sku, p.location): (p.on_hand, p.reserved) for p in rows}


async def _send_again(engine: DurableEngine) -> None:
    """Every acknowledged write once more, with its ids: each answers as a duplicate."""
    for sku in SKUS:
        for location in (STORE, WAREHOUSE):
            again = await engine.stock.adjust(
                sku, location, RECEIVED, "receipt", op_id=f"r-{sku}-{location}"
            )
            assert again.result is StockResult.duplicate
    lines = [Line(sku, STORE, 2) for sku in SKUS[:8]]
    again = await engine.reservations.reserve("R-commit", "online", lines, TTL_S)
    assert again.result is ReserveResult.already_exists
    part = [Line(SKUS[0], STORE, 1), Line(SKUS[5], STORE, 2)]
    shipped = await engine.reservations.fulfill("R-commit", part, op_id="ship-1")
    assert shipped.result is TransitionResult.duplicate


@pytest.mark.slow
async def test_a_master_restarted_empty_fences_writes_until_the_ledger_is_rebuilt(
    db: asyncpg.Pool, pg_dsn: str, cluster_url: str, redis_cluster: PrivateCluster
) -> None:
    # No sweeper: nothing but the fence itself is to notice the loss.
    engine = await DurableEngine.open(cluster_url, db, start_sweeper=False)
    stale, journal = Engine.connect(cluster_url), connect(cluster_url)
    try:
        await _acknowledged_writes(engine)
        before = await _ledger(engine)
        victim = master_without_meta(redis_cluster)
        lost = partitions_on(redis_cluster, victim)
        lost_sku = next(s for s in SKUS if keys.partition_of_sku(s) in lost)
        kept_sku = next(s for s in SKUS if keys.partition_of_sku(s) not in lost)
        async with rebuild_held(pg_dsn):
            await restart_empty(redis_cluster, victim)
            await _until(lambda: not engine.ready)  # found without any write
            # An engine that has not noticed writes into the emptied partition: the journal
            # consumer must not take it for the ledger (the rebuild would restore it).
            assert (await stale.stock.adjust(lost_sku, STORE, 1, "receipt")).position.on_hand == 1
            writer = JournalWriter(journal, db, "fence-test")
            assert [await writer.step() for _ in range(3)] == [0, 0, 0]
            for sku in (lost_sku, kept_sku):  # refused on every master, not only the lost one
                with pytest.raises(LedgerUnavailable):
                    await engine.stock.adjust(sku, STORE, 1, "receipt")
            with pytest.raises(LedgerUnavailable):
                await engine.reservations.reserve(
                    "R-new", "online", [Line(kept_sku, STORE, 1)], TTL_S
                )
        await _until(lambda: engine.ready)
        assert await _ledger(engine) == before
        committed = await engine.reservations.get("R-commit")
        held = await engine.reservations.get("R-held")
        assert committed is not None and committed.state is State.committed
        assert held is not None and held.state is State.held
        await _send_again(engine)
        assert await _ledger(engine) == before  # nothing applied twice
        await writer.drain()
        async with db.acquire() as conn:
            assert await verify(engine.redis, conn) == []
            reasons = await conn.fetch("SELECT reason FROM ledger_epochs ORDER BY epoch")
        assert [r["reason"] for r in reasons][-1] == "ledger partial"
        # And the ledger goes on: a new write on the rebuilt master is acknowledged.
        fresh = await engine.stock.adjust(lost_sku, STORE, 1, "receipt")
        assert (
            fresh.result is StockResult.applied
            and fresh.position.on_hand == before[(lost_sku, STORE)][0] + 1
        )
    finally:
        await engine.close()
        await stale.close()
        await journal.close()


async def test_a_ledger_from_before_the_copies_gets_them_without_a_rebuild(
    db: asyncpg.Pool, rio: RedisIO
) -> None:
    async with db.acquire() as conn:
        await ensure_ledger(rio, conn)
        await Engine(rio).stock.adjust("A", STORE, 5, "receipt")
        await JournalWriter(rio, db, "w").drain()
        await rio.command("DEL", *PARTITION_EPOCH_KEYS)  # as the code before them left it
        assert await ledger_state(rio, conn) == "unfenced"
        assert await ensure_ledger(rio, conn) is None  # no rebuild
        assert await ledger_state(rio, conn) == "ok"
        assert await conn.fetchval("SELECT count(*) FROM ledger_epochs") == 1
    assert await current_epoch(rio) is not None
    assert (await Engine(rio).availability.position("A", STORE)).on_hand == 5


async def test_a_copy_lost_while_writes_flow_elsewhere_is_found(
    db: asyncpg.Pool, jredis_url: str
) -> None:
    """No write touches the partition whose copy goes: the check of every copy at least
    every health interval, busy or not, finds it."""
    engine = await DurableEngine.open(jredis_url, db, start_sweeper=False)
    lost = keys.partition_of_sku(SKUS[0])
    busy = [sku for sku in SKUS if keys.partition_of_sku(sku) != lost]
    acknowledged: dict[str, int] = dict.fromkeys(busy, 0)

    stop = asyncio.Event()

    async def write_on() -> None:
        """Each receipt until acknowledged, retried with its op id (applied once)."""
        while not stop.is_set():
            for sku in busy:
                op_id = f"{sku}-{acknowledged[sku]}"
                while True:
                    try:
                        await engine.stock.adjust(sku, STORE, 1, "receipt", op_id=op_id)
                        break
                    except LedgerUnavailable:
                        await asyncio.sleep(POLL_S)
                acknowledged[sku] += 1

    writing = asyncio.create_task(write_on())
    try:
        await asyncio.sleep(0.3)
        await engine.redis.command("DEL", keys.partition_epoch(lost))
        await _until(lambda: engine.durability.rebuilds >= 2 and engine.ready)
        await asyncio.sleep(0.2)  # and writes go on after the rebuild
    finally:
        stop.set()
        await writing
    try:
        positions = await engine.availability.positions(busy, [STORE])
        assert {p.sku: p.on_hand for p in positions} == acknowledged
        async with db.acquire() as conn:
            reasons = await conn.fetch("SELECT reason FROM ledger_epochs ORDER BY epoch")
        assert [r["reason"] for r in reasons][-1] == "ledger partial"
    finally:
        await engine.close()
