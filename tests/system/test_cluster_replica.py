"""The in-memory replica on a private 3-master Redis Cluster: one reader per partition
(atp/replica_tail.py) keeps every position equal to Redis, and ``as_of`` moves per
partition."""

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import date

import pytest

from atp import keys
from atp.clock import ManualClock
from atp.limits import LEDGER_PARTITIONS
from atp.model import Supply
from atp.register_events import RegisterEvent, Registers
from atp.register_events import RegisterEventKind as Kind
from atp.replica import Replica
from atp.rules import day_from_number
from engine.local import Engine
from reservations.model import Line
from support.servers import PrivateCluster

pytestmark = [pytest.mark.slow, pytest.mark.servers]

SKUS = [f"C{i:02d}" for i in range(60)]
LOCATIONS = ["S1", "S2", "W1"]
CATCH_UP_S = 5.0
RELOAD_POLLS = 200


@pytest.fixture
async def live(cluster_url: str, clock: ManualClock) -> AsyncIterator[Engine]:
    engine = Engine.connect(cluster_url, clock, replica=True)
    await engine.redis.command("PING")  # the slot map before the first burst
    await engine.start_replica()
    yield engine
    await engine.close()


def _replica(engine: Engine) -> Replica:
    assert engine.replica is not None
    return engine.replica


def _event(event_id: str | None) -> tuple[int, str]:
    """(partition, stream id) of an engine event id ``<partition>-<ms>-<seq>``."""
    assert event_id is not None
    partition, _, stream_id = event_id.partition("-")
    return int(partition), stream_id


async def _tips(engine: Engine) -> list[tuple[int, str]]:
    tips = []
    for partition in range(LEDGER_PARTITIONS):
        last = await engine.redis.command("XREVRANGE", keys.stream(partition), "+", "-", "COUNT", 1)
        if last:
            tips.append((partition, last[0][0]))
    return tips


async def _assert_mirrors_redis(engine: Engine) -> None:
    replica = _replica(engine)
    assert await replica.caught_up(await _tips(engine), CATCH_UP_S)
    for sku in SKUS:
        for location in LOCATIONS:
            raw = await engine.redis.command(
                "HMGET", keys.position(sku, location), "oh", "rs", "sf", "in", "os"
            )
            assert list(replica.positions.get(sku, location)) == [int(v or 0) for v in raw]
            supplies = await engine.redis.command("HGETALL", keys.incoming(sku, location))
            in_redis = {
                Supply(
                    supply_id, int(value.split("|")[0]), day_from_number(int(value.split("|")[1]))
                )
                for supply_id, value in supplies.items()
            }
            assert set(replica.positions.supplies_at(sku, location)) == in_redis


async def _random_writes(engine: Engine, rng: random.Random, count: int, tag: str) -> None:
    registers = Registers(engine.redis)
    for n in range(count):
        sku, location = rng.choice(SKUS), rng.choice(LOCATIONS)
        roll = rng.random()
        if roll < 0.1:  # a register sale: oversells, so the os cell moves too
            event = RegisterEvent(Kind.sale, f"{tag}-e{n}", n + 1, 1, sku, location, 3)
            await registers.replay(f"till-{tag}", [event])
        elif roll < 0.5:
            await engine.stock.adjust(sku, location, rng.randint(1, 9), "receipt")
        elif roll < 0.6:
            await engine.stock.set_safety(sku, location, rng.randint(0, 2))
        elif roll < 0.7:
            day = date(2027, 1, rng.randint(1, 28))
            await engine.stock.add_incoming(sku, location, f"PO-{tag}-{n}", 5, day)
        else:
            skus = {sku, rng.choice(SKUS)}  # often two partitions, two masters
            lines = [Line(s, location, 1) for s in sorted(skus)]
            await engine.reservations.reserve(f"{tag}-r{n}", "online", lines, 600)


async def test_the_replica_follows_every_master(
    live: Engine, redis_cluster: PrivateCluster
) -> None:
    rng = random.Random(17)
    await _random_writes(live, rng, 400, "a")
    masters = {redis_cluster.master_of_key(keys.position(s, "S1")) for s in SKUS}
    assert masters == set(redis_cluster.ports), "the SKUs must spread over every master"
    await _assert_mirrors_redis(live)
    replica = _replica(live)
    assert replica.serving and replica.loads == 1
    # A later process loads what is there and follows the writes that go on meanwhile.
    late = Engine.connect(redis_cluster.url, ManualClock(), replica=True)
    try:
        writer = asyncio.create_task(_random_writes(live, rng, 200, "b"))
        await late.start_replica()
        await writer
        await _assert_mirrors_redis(late)
    finally:
        await late.close()


async def test_a_write_is_visible_and_as_of_moves_per_partition(live: Engine) -> None:
    replica = _replica(live)
    first = await live.stock.adjust("C01", "S1", 4, "receipt")
    partition, stream_id = _event(first.event_id)
    assert await replica.caught_up([(partition, stream_id)], CATCH_UP_S)
    assert replica.positions.get("C01", "S1")[0] == 4
    assert replica.as_of([partition]) == stream_id
    others = [p for p in range(LEDGER_PARTITIONS) if p != partition]
    before = {p: replica.as_of([p]) for p in others}
    second = await live.stock.adjust("C01", "S1", 1, "receipt")
    _, later_id = _event(second.event_id)
    assert await replica.caught_up([(partition, later_id)], CATCH_UP_S)
    assert replica.as_of([partition]) == later_id
    assert {p: replica.as_of([p]) for p in others} == before, "other partitions stay"
    assert replica.has_applied(partition, later_id)
    # A read over several partitions claims no more than its least advanced one.
    other = next(s for s in SKUS if keys.partition_of_sku(s) != partition)
    both = [partition, keys.partition_of_sku(other)]
    assert replica.as_of(both) == min(replica.as_of([p]) for p in both)


async def test_a_rebuilt_ledger_makes_it_reload(live: Engine) -> None:
    replica = _replica(live)
    await live.stock.adjust("C02", "W1", 3, "receipt")
    loads = replica.loads
    await live.redis.command("SET", keys.EPOCH, "99")  # what a rebuild sets last
    for _ in range(RELOAD_POLLS):  # the reload check runs every REPLICA_CHECK_INTERVAL_MS
        if replica.loads > loads and replica.ready:
            break
        await asyncio.sleep(0.05)
    assert replica.loads > loads and replica.epoch == "99"
    outcome = await live.stock.adjust("C02", "W1", 2, "receipt")
    assert await replica.caught_up([_event(outcome.event_id)], CATCH_UP_S)
    assert replica.positions.get("C02", "W1")[0] == 5


async def test_a_replica_of_some_partitions_follows_only_theirs(
    live: Engine, cluster_url: str, clock: ManualClock
) -> None:
    """ATP_REPLICA_PARTITIONS on a cluster: readers for its partitions only, serving."""
    held = frozenset(range(0, LEDGER_PARTITIONS, 2))
    inside = [s for s in SKUS if keys.partition_of_sku(s) in held]
    outside = [s for s in SKUS if keys.partition_of_sku(s) not in held]
    for sku in inside[:3] + outside[:3]:
        await live.stock.adjust(sku, "S1", 2, "receipt")
    partial = Engine.connect(cluster_url, clock, replica=True, replica_partitions=held)
    try:
        await partial.start_replica()
        replica = _replica(partial)
        assert replica.serving and not replica.whole
        assert set(replica.positions.sku_index) == set(inside[:3])
        outcome = await live.stock.adjust(inside[0], "S1", 5, "receipt")
        await live.stock.adjust(outside[0], "S1", 5, "receipt")
        assert await replica.caught_up([_event(outcome.event_id)], CATCH_UP_S)
        assert replica.positions.get(inside[0], "S1")[0] == 7
        assert outside[0] not in replica.positions.sku_index
        assert replica.serving  # the partitions it does not follow never make it stale
    finally:
        await partial.close()
