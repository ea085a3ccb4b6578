"""The real engine against a private 3-master Redis Cluster (tests/support/servers.py)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar, cast

import pytest

from atp import keys
from atp.clock import ManualClock
from atp.events import read_events
from atp.limits import LEDGER_PARTITIONS, LEG_EXPIRY_GRACE_MS
from atp.model import StockResult
from atp.redis_connect import connect
from atp.scripts import load_script
from engine.local import Engine
from reservations.model import Line, ReserveResult, State, TransitionResult
from support.invariants import check_ledger
from support.servers import PrivateCluster, free_ports

pytestmark = [pytest.mark.slow, pytest.mark.servers]
T = TypeVar("T")

LOC = "DC1"
TTL_S = 60


# ClusterRedis misroutes and may apply twice the writes of a burst sent before its first
# reply (see test_cold_client_burst_applies_each_write_once), and refuses more than 100
# commands in flight per master: the tests warm the client and bound their concurrency.
INFLIGHT_MAX = 32


@pytest.fixture
async def cluster_engine(cluster_url: str, clock: ManualClock) -> AsyncIterator[Engine]:
    eng = Engine.connect(cluster_url, clock)
    await eng.redis.command("PING")  # learn the slot map before any concurrent write
    yield eng
    await eng.close()


async def bounded(calls: list[Awaitable[T]], limit: int = INFLIGHT_MAX) -> list[T]:
    room = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with room:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def settle_all(calls: list[Awaitable[T]]) -> list[T]:
    """gather, but every call has ended before the first error is raised: the engine must
    not be closed under calls still running (their connections would leak)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


def partition_masters(cluster: PrivateCluster) -> dict[int, int]:
    """partition -> port of the master serving its slot (CLUSTER KEYSLOT + CLUSTER NODES)."""
    return {p: cluster.master_of_key(keys.stream(p)) for p in range(LEDGER_PARTITIONS)}


def skus_on_distinct_masters(cluster: PrivateCluster, count: int, prefix: str) -> list[str]:
    """``count`` SKUs whose partitions are served by ``count`` different masters."""
    masters = partition_masters(cluster)
    chosen: dict[int, str] = {}
    for i in range(10_000):
        sku = f"{prefix}-{i}"
        chosen.setdefault(masters[keys.partition_of_sku(sku)], sku)
        if len(chosen) == count:
            return sorted(chosen.values())
    raise AssertionError(f"no {count} SKUs on distinct masters")


async def stock(engine: Engine, on_hand: dict[str, int], location: str = LOC) -> None:
    outcomes = await bounded(
        [engine.stock.adjust(sku, location, qty, "receipt") for sku, qty in on_hand.items()]
    )
    assert all(o.result is StockResult.applied for o in outcomes)


async def reserved_of(engine: Engine, skus: list[str], location: str = LOC) -> dict[str, int]:
    positions = await engine.availability.positions(skus, [location])
    return {p.sku: p.reserved for p in positions}


def keys_on_node(cluster: PrivateCluster, port: int, pattern: str) -> list[str]:
    node = next(n for n in cluster.nodes if n.port == port)
    with contextlib.closing(node.client()) as client:
        return sorted(client.scan_iter(pattern, count=1000))


def all_keys(cluster: PrivateCluster, pattern: str) -> list[str]:
    return sorted(k for port in cluster.ports for k in keys_on_node(cluster, port, pattern))


async def test_stock_writes_and_reads(cluster_engine: Engine) -> None:
    stock_ = cluster_engine.stock
    assert (await stock_.adjust("SKU-A", LOC, 10, "receipt", op_id="op-1")).position.on_hand == 10
    replay = await stock_.adjust("SKU-A", LOC, 10, "receipt", op_id="op-1")
    assert replay.result is StockResult.duplicate
    assert (await stock_.set_safety("SKU-A", LOC, 3)).position.safety == 3
    counted = await stock_.set_on_hand("SKU-B", "S7", 5, expected_on_hand=0)
    assert counted.result is StockResult.applied
    mismatch = await stock_.set_on_hand("SKU-B", "S7", 6, expected_on_hand=0)
    assert mismatch.result is StockResult.expected_mismatch
    position = await cluster_engine.availability.position("SKU-A", LOC)
    assert (position.on_hand, position.reserved, position.safety) == (10, 0, 3)
    assert (await cluster_engine.availability.position("SKU-B", "S7")).on_hand == 5
    assert (await cluster_engine.availability.position("SKU-UNKNOWN", LOC)).on_hand == 0


async def test_batch_read_spans_many_slots(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    skus = [f"BATCH-{i:03d}" for i in range(150)]
    locations = ["DC1", "S1", "S2"]
    await bounded(
        [
            cluster_engine.stock.adjust(sku, loc, 1 + i * 3 + j, "receipt")
            for i, sku in enumerate(skus)
            for j, loc in enumerate(locations)
        ]
    )
    masters = partition_masters(redis_cluster)
    assert {keys.partition_of_sku(s) for s in skus} == set(range(LEDGER_PARTITIONS))
    assert {masters[keys.partition_of_sku(s)] for s in skus} == set(redis_cluster.ports)
    positions = await cluster_engine.availability.positions(skus, locations)
    expected = [
        (sku, loc, 1 + i * 3 + j) for i, sku in enumerate(skus) for j, loc in enumerate(locations)
    ]
    assert [(p.sku, p.location, p.on_hand) for p in positions] == expected


async def test_reservation_across_masters(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    skus = skus_on_distinct_masters(redis_cluster, 3, "MM")
    masters = {redis_cluster.master_of_key(keys.position(s, LOC)) for s in skus}
    assert len(masters) == 3, "the lines must fall on three different masters"
    await stock(cluster_engine, dict.fromkeys(skus, 10))
    lines = [Line(sku, LOC, qty) for sku, qty in zip(skus, (2, 3, 4), strict=True)]
    outcome = await cluster_engine.reservations.reserve("r-mm", "online", lines, TTL_S)
    assert outcome.result is ReserveResult.reserved
    assert await reserved_of(cluster_engine, skus) == dict(zip(skus, (2, 3, 4), strict=True))
    for sku in skus:  # each leg lives on the master of its partition, beside its positions
        partition = keys.partition_of_sku(sku)
        port = redis_cluster.master_of_key(keys.position(sku, LOC))
        assert keys.leg(partition, "r-mm") in keys_on_node(redis_cluster, port, "atp:*:leg:*")
        events = await read_events(cluster_engine.redis, partition)
        mine = [e for e in events if e.reservation_id == "r-mm"]
        assert [(e.type, e.sku, e.d_reserved) for e in mine] == [
            ("reserved", sku, lines[skus.index(sku)].qty)
        ]
    home = keys.partition_of_reservation("r-mm")
    header_events = await read_events(cluster_engine.redis, home)
    assert "reservation_held" in [e.type for e in header_events if e.reservation_id == "r-mm"]
    got = await cluster_engine.reservations.get("r-mm")
    assert got is not None and got.state is State.held
    assert [ln.open for ln in got.lines] == [2, 3, 4]
    check_ledger(redis_cluster.master_urls)


async def test_short_line_holds_nothing_anywhere(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    skus = skus_on_distinct_masters(redis_cluster, 3, "AON")
    await stock(cluster_engine, {skus[0]: 10, skus[1]: 10, skus[2]: 1})
    lines = [Line(skus[0], LOC, 2), Line(skus[1], LOC, 3), Line(skus[2], LOC, 4)]
    outcome = await cluster_engine.reservations.reserve("r-short", "online", lines, TTL_S)
    assert outcome.result is ReserveResult.insufficient
    assert [(s.sku, s.location, s.requested, s.available) for s in outcome.shortfalls] == [
        (skus[2], LOC, 4, 1)
    ]
    assert await reserved_of(cluster_engine, skus) == dict.fromkeys(skus, 0)
    assert all_keys(redis_cluster, "atp:*:leg:*") == []
    assert all_keys(redis_cluster, "atp:*:res:*") == []
    assert await cluster_engine.reservations.get("r-short") is None
    for sku in skus[:2]:  # the legs that held were rolled back, in their own partitions
        events = await read_events(cluster_engine.redis, keys.partition_of_sku(sku))
        assert [e.type for e in events if e.reservation_id == "r-short"] == [
            "reserved",
            "rolled_back",
        ]
    check_ledger(redis_cluster.master_urls, resolved=True)


async def test_commit_partial_fulfil_release(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    skus = skus_on_distinct_masters(redis_cluster, 3, "LIFE")
    await stock(cluster_engine, dict.fromkeys(skus, 10))
    lines = [Line(sku, LOC, 4) for sku in skus]
    reservations = cluster_engine.reservations
    assert (await reservations.reserve("r-life", "online", lines, TTL_S)).ok
    assert (await reservations.commit("r-life")).result is TransitionResult.applied
    assert (await reservations.commit("r-life")).result is TransitionResult.duplicate
    part = [Line(skus[0], LOC, 1), Line(skus[2], LOC, 4)]  # the retry finds no unit open
    first = await reservations.fulfill("r-life", part, op_id="pick-1")
    assert first.result is TransitionResult.applied
    again = await reservations.fulfill("r-life", part, op_id="pick-1")
    assert again.result is TransitionResult.duplicate
    positions = await cluster_engine.availability.positions(skus, [LOC])
    assert [(p.on_hand, p.reserved) for p in positions] == [(9, 3), (10, 4), (6, 0)]
    released = await reservations.release("r-life")
    assert released.result is TransitionResult.applied
    assert released.reservation is not None and released.reservation.state is State.fulfilled
    positions = await cluster_engine.availability.positions(skus, [LOC])
    assert [(p.on_hand, p.reserved) for p in positions] == [(9, 0), (10, 0), (6, 0)]
    header, _ = await reservations.read("r-life")
    assert header["st"] == "fulfilled"
    check_ledger(redis_cluster.master_urls, resolved=True)


async def test_expiry_by_sweeper(
    cluster_engine: Engine, redis_cluster: PrivateCluster, clock: ManualClock
) -> None:
    skus = skus_on_distinct_masters(redis_cluster, 3, "EXP")
    await stock(cluster_engine, dict.fromkeys(skus, 5))
    lines = [Line(sku, LOC, 5) for sku in skus]
    assert (await cluster_engine.reservations.reserve("r-exp", "online", lines, TTL_S)).ok
    clock.advance(TTL_S * 1000 - 1)
    assert await cluster_engine.sweeper.sweep_once() == 0
    assert await reserved_of(cluster_engine, skus) == dict.fromkeys(skus, 5)
    clock.advance(1)
    assert await cluster_engine.sweeper.sweep_once() == 1
    assert await reserved_of(cluster_engine, skus) == dict.fromkeys(skus, 0)
    got = await cluster_engine.reservations.get("r-exp")
    assert got is not None and got.state is State.expired
    assert [ln.expired for ln in got.lines] == [5, 5, 5]
    late = await cluster_engine.reservations.commit("r-exp")
    assert late.result is TransitionResult.expired
    clock.advance(LEG_EXPIRY_GRACE_MS)  # the legs' own deadlines pass: nothing returns twice
    assert await cluster_engine.sweeper.sweep_once() == 0
    for sku in skus:
        events = await read_events(cluster_engine.redis, keys.partition_of_sku(sku))
        assert [e.type for e in events if e.reservation_id == "r-exp"] == ["reserved", "expired"]
    check_ledger(redis_cluster.master_urls, resolved=True, now_ms=clock.now_ms())


async def test_retry_is_idempotent_and_another_body_conflicts(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    skus = skus_on_distinct_masters(redis_cluster, 3, "IDEM")
    await stock(cluster_engine, dict.fromkeys(skus, 10))
    lines = [Line(sku, LOC, 3) for sku in skus]
    reservations = cluster_engine.reservations
    first = await reservations.reserve("r-idem", "online", lines, TTL_S)
    retry = await reservations.reserve("r-idem", "online", list(reversed(lines)), TTL_S)
    assert (first.result, retry.result) == (ReserveResult.reserved, ReserveResult.already_exists)
    assert retry.reservation == first.reservation
    other = [Line(sku, LOC, 2) for sku in skus]
    assert (await reservations.reserve("r-idem", "online", other, TTL_S)).result is (
        ReserveResult.conflict
    )
    other_ttl = await reservations.reserve("r-idem", "online", lines, TTL_S + 1)
    assert other_ttl.result is ReserveResult.conflict
    assert await reserved_of(cluster_engine, skus) == dict.fromkeys(skus, 3)
    check_ledger(redis_cluster.master_urls)


async def test_scripts_load_on_every_master(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    """The cluster fixture flushed every script cache: EVALSHA meets NOSCRIPT on each master
    and the transport falls back to EVAL, which caches the script there."""
    shas = [load_script("reservations.lua", n).sha for n in ("reserve_leg", "header_create")]
    clients = redis_cluster.clients()
    try:
        assert all(c.script_exists(*shas) == [False, False] for c in clients)
        skus = skus_on_distinct_masters(redis_cluster, 3, "SCR")
        await stock(cluster_engine, dict.fromkeys(skus, 10))
        lines = [Line(sku, LOC, 1) for sku in skus]
        assert (await cluster_engine.reservations.reserve("r-scr", "online", lines, TTL_S)).ok
        home = redis_cluster.master_of_key(keys.header("r-scr"))
        for client in clients:
            port = client.connection_pool.connection_kwargs["port"]
            assert client.script_exists(shas[0]) == [True], f"reserve_leg not on {port}"
            assert client.script_exists(shas[1]) == [port == home]
            client.script_flush()  # NOSCRIPT again on every master: still works
        assert (await cluster_engine.reservations.reserve("r-scr2", "online", lines, TTL_S)).ok
        assert await reserved_of(cluster_engine, skus) == dict.fromkeys(skus, 2)
    finally:
        for client in clients:
            client.close()


async def test_cold_client_burst_applies_each_write_once(cluster_url: str) -> None:
    """A burst of stock writes on a client that has not yet learnt the slot map: redis-py
    sends them to one node, follows the MOVED replies, and every 5th MOVED closes every
    connection (reinitialize_steps), including those of scripts already run; it then
    retries those (ConnectionError is retryable) and the adjustments apply twice."""
    for attempt in range(3):
        engine = Engine.connect(cluster_url, ManualClock())
        try:
            skus = [f"COLD-{attempt}-{i:03d}" for i in range(60)]
            await settle_all(
                [engine.stock.adjust(sku, LOC, 1 + i, "receipt") for i, sku in enumerate(skus)]
            )
            positions = await engine.availability.positions(skus, [LOC])
            doubled = [p.sku for i, p in enumerate(positions) if p.on_hand != 1 + i]
            assert doubled == [], f"applied more than once: {doubled}"
        finally:
            await engine.close()


async def test_more_commands_in_flight_than_the_pool_are_queued(cluster_engine: Engine) -> None:
    """PipelinedRedis queues up to PIPELINE_INFLIGHT_MAX; the cluster transport should too."""
    skus = [f"FLOOD-{i:03d}" for i in range(450)]
    await settle_all([cluster_engine.stock.adjust(s, LOC, 1, "receipt") for s in skus])
    positions = await cluster_engine.availability.positions(skus, [LOC])
    assert [p.on_hand for p in positions] == [1] * len(skus)


async def test_a_url_lists_seed_nodes_and_any_live_one_will_do(
    redis_cluster: PrivateCluster,
) -> None:
    """``redis+cluster://a,b,c``: the first node dead, the engine starts on the next."""
    dead = free_ports(1, exclude=redis_cluster.ports)[0]
    live = ",".join(f"127.0.0.1:{p}" for p in redis_cluster.ports)
    redis = connect(f"redis+cluster://127.0.0.1:{dead},{live}")
    try:
        engine = Engine(redis)
        outcome = await engine.stock.adjust("SEED-1", "S1", 2, "receipt")
        assert outcome.position.on_hand == 2
    finally:
        await redis.close()
    with pytest.raises(ValueError, match="host:port"):
        connect("redis+cluster://127.0.0.1:7001,nonsense")
