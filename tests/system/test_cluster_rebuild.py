"""A Redis Cluster whose masters all came back empty is rebuilt from the journal, as a
single Redis is (tests/durability/test_journal_rebuild.py): positions, supply, live
reservations, receipts; `verify` agrees and availability is what it was."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from redis.exceptions import RedisError

from atp import keys
from atp.clock import ManualClock
from atp.model import LedgerUnavailable, StockResult
from atp.redis_connect import connect
from atp.redis_io import RedisIO
from durability.rebuild import ensure_ledger, ledger_state
from durability.streams import EPOCH_KEY
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.durable import DurableEngine
from engine.local import Engine
from reservations.model import Line, State
from support.journal import mixed_ops
from support.servers import PrivateCluster

pytestmark = [pytest.mark.slow, pytest.mark.servers]

SKUS = [f"SKU-{i}" for i in range(20)]
LOCATIONS = ["S1", "W1"]
POLLS = 200  # of 50 ms: what a rebuild and a replica reload may take here
WAIT_S = 5.0


def snapshot(cluster: PrivateCluster) -> dict[str, object]:
    """Positions and incoming supply hashes on every master."""
    found: dict[str, object] = {}
    for client in cluster.clients():
        with contextlib.closing(client):
            for pattern in ("atp:*:pos:*", "atp:*:inc:*"):
                for key in client.scan_iter(pattern, count=10_000):
                    found[key] = client.hgetall(key)
    return found


def restart_empty(cluster: PrivateCluster) -> None:
    """Every master killed and started again: without persistence each comes back empty,
    keeping only its cluster config (so the same slots)."""
    for node in cluster.nodes:
        node.restart()
    cluster.wait_ready()


@pytest.fixture
async def cluster_rio(cluster_url: str) -> AsyncIterator[RedisIO]:
    io = connect(cluster_url)
    yield io
    await io.close()


async def _availability(engine: Engine) -> list[tuple[str, str, int, int, int, int]]:
    positions = await engine.availability.positions(SKUS, LOCATIONS)
    return [(p.sku, p.location, p.on_hand, p.reserved, p.safety, p.incoming) for p in positions]


async def test_a_cluster_restarted_empty_is_rebuilt(
    db: asyncpg.Pool, cluster_url: str, cluster_rio: RedisIO, redis_cluster: PrivateCluster
) -> None:
    clock = ManualClock()
    engine = Engine.connect(cluster_url, clock)
    try:
        async with db.acquire() as conn:
            await ensure_ledger(cluster_rio, conn)
        await create_groups(cluster_rio)
        await mixed_ops(engine, clock)
        await JournalWriter(cluster_rio, db, "w").drain()
        before, available = snapshot(redis_cluster), await _availability(engine)
        held = await engine.reservations.get("R-held")
        part = await engine.reservations.get("R-part")
        masters = {redis_cluster.master_of_key(k) for k in before}
        assert masters == set(redis_cluster.ports), "the ledger must span every master"
    finally:
        await engine.close()

    restart_empty(redis_cluster)
    rio, engine = connect(cluster_url), Engine.connect(cluster_url, clock)
    try:
        async with db.acquire() as conn:
            assert await ledger_state(rio, conn) == "missing"
            report = await ensure_ledger(rio, conn)
            assert report is not None and report.reservations == 3
            assert await ledger_state(rio, conn) == "ok"
            assert await verify(rio, conn) == []
            replayed = await replay_positions(conn)
        assert snapshot(redis_cluster) == before
        assert {k.split(":pos:")[1] for k in before if ":pos:" in k} == {
            f"{loc}:{sku}" for sku, loc in replayed
        }
        assert await rio.command("GET", EPOCH_KEY) == str(report.epoch)
        assert await _availability(engine) == available
        assert await engine.reservations.get("R-held") == held
        assert await engine.reservations.get("R-part") == part
        # Retries are still answered, and live reservations go on.
        retry = await engine.stock.adjust("SKU-3", "S1", 13, "receipt", op_id="op-3")
        assert retry.result is StockResult.duplicate and retry.position.on_hand == 13
        assert (await engine.reservations.fulfill("R-part")).ok
        assert (await engine.reservations.fulfill("R-commit")).ok
        clock.advance(700_000)
        await engine.sweeper.sweep_once()
        expired = await engine.reservations.get("R-held")
        assert expired is not None and expired.state is State.expired
        # New events sort after the journal's on every master: journaled as usual.
        await JournalWriter(rio, db, "w2").drain()
        async with db.acquire() as conn:
            assert await verify(rio, conn) == []
            await replay_positions(conn)
    finally:
        await engine.close()
        await rio.close()


async def test_rebuild_wipes_keys_on_every_master(
    db: asyncpg.Pool, cluster_rio: RedisIO, redis_cluster: PrivateCluster
) -> None:
    """A ledger behind the journal on one master is wiped everywhere and rebuilt; keys that
    are not the ledger's stay."""
    engine = Engine.connect(redis_cluster.url, ManualClock())
    try:
        async with db.acquire() as conn:
            await ensure_ledger(cluster_rio, conn)
            await create_groups(cluster_rio)
            for sku in SKUS:
                await engine.stock.adjust(sku, "S1", 5, "receipt")
            await JournalWriter(cluster_rio, db, "w").drain()
            stale = f"atp:{keys.tag(keys.partition_of_sku('SKU-1'))}:pos:GONE:SKU-1"
            await cluster_rio.command("HSET", stale, "oh", 1)
            await cluster_rio.command("DEL", keys.stream(keys.partition_of_sku("SKU-1")))
            await cluster_rio.command("SET", "atp:{meta}:apikey:k1", "not the ledger's")
            assert await ledger_state(cluster_rio, conn) == "behind"
            assert await ensure_ledger(cluster_rio, conn) is not None
            assert await cluster_rio.command("EXISTS", stale) == 0
            assert await cluster_rio.command("EXISTS", "atp:{meta}:apikey:k1") == 1
            assert await verify(cluster_rio, conn) == []
        positions = await engine.availability.positions(SKUS, ["S1"])
        assert {p.on_hand for p in positions} == {5}
    finally:
        await engine.close()


async def test_writes_wait_for_the_rebuild_of_a_cluster_that_lost_its_ledger(
    db: asyncpg.Pool, cluster_url: str, redis_cluster: PrivateCluster
) -> None:
    """The fence: with every master restarted empty the epoch is gone, so writes are refused
    (never acknowledged) until the process has rebuilt the ledger; then the replica, which
    follows every partition, reloads and equals Redis again."""
    engine = await DurableEngine.open(cluster_url, db, replica=True)
    try:
        await engine.start_replica()
        await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
        lines = [Line("SKU-1", "S1", 2), Line("SKU-2", "S1", 1)]
        await engine.stock.adjust("SKU-2", "S1", 3, "receipt")
        assert (await engine.reservations.reserve("R-1", "online", lines, 600)).ok
        assert (await engine.reservations.commit("R-1")).ok
        restart_empty(redis_cluster)
        with pytest.raises((LedgerUnavailable, RedisError)):
            # Applied to an empty ledger (or lost with the connection): never acknowledged.
            await engine.stock.adjust("SKU-1", "S1", 1, "receipt")
        # Its idle check finds the epoch gone; the first rebuild built epoch 1.
        await _until(lambda: engine.durability.rebuilds == 2 and engine.ready)
        position = await engine.availability.position("SKU-1", "S1")
        assert (position.on_hand, position.reserved) == (5, 2)
        again = await engine.stock.adjust("SKU-1", "S1", 1, "receipt")
        assert again.result is StockResult.applied and again.position.on_hand == 6
        replica = engine.replica
        assert replica is not None
        await _until(lambda: replica.serving and replica.epoch is not None)
        partition, _, stream_id = str(again.event_id).partition("-")
        assert await replica.caught_up([(int(partition), stream_id)], WAIT_S)
        assert tuple(replica.positions.get("SKU-1", "S1"))[:2] == (6, 2)
        assert tuple(replica.positions.get("SKU-2", "S1"))[:2] == (3, 1)
        assert (await engine.reservations.fulfill("R-1")).ok
        async with db.acquire() as conn:
            assert await verify(engine.redis, conn) == []
    finally:
        await engine.close()


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(POLLS):
        if condition():
            return
        await asyncio.sleep(0.05)
    assert condition()
