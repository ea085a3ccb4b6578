"""The in-memory replica follows Redis: after it reports catching up to a stream position,
every position equals Redis; it reloads on a trimmed stream and on a rebuilt ledger."""

import asyncio
import random
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.model import Supply
from atp.register_events import RegisterEvent, Registers
from atp.register_events import RegisterEventKind as Kind
from atp.replica import Replica
from atp.rules import day_from_number
from engine.local import Engine
from reservations.model import Line
from support.invariants_ledger import positions_in_redis

SKUS = [f"R{i}" for i in range(12)]
LOCATIONS = ["S1", "S2", "W1"]
CATCH_UP_S = 5.0


async def _tips(engine: Engine) -> list[tuple[int, str]]:
    tips = []
    for partition in range(LEDGER_PARTITIONS):
        last = await engine.redis.command("XREVRANGE", keys.stream(partition), "+", "-", "COUNT", 1)
        if last:
            tips.append((partition, last[0][0]))
    return tips


async def _assert_mirrors_redis(engine: Engine, replica: Replica) -> None:
    assert await replica.caught_up(await _tips(engine), CATCH_UP_S)
    for (sku, location), values in (await positions_in_redis(engine.redis)).items():
        oversold = await engine.redis.command("HGET", keys.position(sku, location), "os")
        expected = [*values, int(oversold or 0)]
        assert list(replica.positions.get(sku, location)) == expected, (sku, location)
    for sku in SKUS:
        for location in LOCATIONS:
            raw = await engine.redis.command("HGETALL", keys.incoming(sku, location))
            in_redis = {
                Supply(supply_id, int(v.split("|")[0]), day_from_number(int(v.split("|")[1])))
                for supply_id, v in zip(raw[::2], raw[1::2], strict=True)
            }
            assert set(replica.positions.supplies_at(sku, location)) == in_redis


async def _reloaded(replica: Replica, loads_before: int) -> None:
    """Waits (bounded) for the replica to have loaded again and caught up."""
    for _ in range(50):
        if replica.loads > loads_before and replica.ready:
            break
        await asyncio.sleep(0.1)
    assert replica.loads > loads_before


async def _random_writes(engine: Engine, rng: random.Random, count: int, tag: str) -> None:
    registers = Registers(engine.redis)
    sales: list[str] = []
    for n in range(count):
        sku, location = rng.choice(SKUS), rng.choice(LOCATIONS)
        roll = rng.random()
        if roll < 0.1:  # register sales oversell and voids release it: the os cell moves
            if sales and rng.random() < 0.4:
                event = RegisterEvent(Kind.void, f"{tag}-v{n}", n + 1, 1, voids=sales.pop())
            else:
                event = RegisterEvent(Kind.sale, f"{tag}-e{n}", n + 1, 1, sku, location, 3)
                sales.append(event.event_id)
            await registers.replay(f"till-{tag}", [event])
        elif roll < 0.4:
            await engine.stock.adjust(sku, location, rng.randint(1, 9), "receipt")
        elif roll < 0.5:
            await engine.stock.set_on_hand(sku, location, rng.randint(0, 9))
        elif roll < 0.6:
            await engine.stock.set_safety(sku, location, rng.randint(0, 2))
        elif roll < 0.7:
            day = date(2027, 1, 1) + timedelta(days=rng.randint(0, 30))
            await engine.stock.add_incoming(sku, location, f"po-{rng.randint(1, 3)}", 5, day)
        elif roll < 0.75:
            await engine.stock.remove_incoming(sku, location, f"po-{rng.randint(1, 3)}")
        else:
            lines = [Line(s, location, 1) for s in rng.sample(SKUS, 2)]
            outcome = await engine.reservations.reserve(f"{tag}-{n}", "online", lines, 60)
            if outcome.ok and rng.random() < 0.5:
                await engine.reservations.release(f"{tag}-{n}")


@pytest.fixture
async def live(redis_url: str):  # type: ignore[no-untyped-def]
    engine = Engine.connect(redis_url, replica=True)
    await engine.start_replica()
    yield engine
    await engine.close()


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10_000), writes=st.integers(1, 150))
async def test_after_catching_up_every_position_equals_redis(
    redis_url: str, seed: int, writes: int
) -> None:
    await _flush(redis_url)
    engine = Engine.connect(redis_url, replica=True)
    try:
        await engine.start_replica()
        assert engine.replica is not None and engine.replica.ready
        await _random_writes(engine, random.Random(seed), writes, f"s{seed}")
        await _assert_mirrors_redis(engine, engine.replica)
    finally:
        await engine.close()


async def _flush(redis_url: str) -> None:
    engine = Engine.connect(redis_url)
    await engine.redis.command("FLUSHDB")
    await engine.close()


async def test_a_stream_trimmed_past_the_cursor_makes_it_reload(live: Engine) -> None:
    replica = live.replica
    assert replica is not None
    await live.stock.adjust("R1", "S1", 3, "receipt")
    await _assert_mirrors_redis(live, replica)
    await replica.stop()  # stopped: the next writes pile up in the stream unseen
    for _ in range(20):
        await live.stock.adjust("R1", "S1", 1, "receipt")
    partition = keys.partition_of_sku("R1")
    await live.redis.command("XTRIM", keys.stream(partition), "MAXLEN", 0)
    loads = replica.loads
    assert await replica._needs_reload()
    await replica.start()
    assert replica.loads == loads + 1
    await _assert_mirrors_redis(live, replica)
    assert replica.positions.get("R1", "S1")[0] == 23


async def test_a_rebuilt_ledger_makes_it_reload(live: Engine) -> None:
    replica = live.replica
    assert replica is not None
    await live.stock.adjust("R2", "W1", 7, "receipt")
    await _assert_mirrors_redis(live, replica)
    # What a restart-empty-then-rebuild looks like from here: new keys, a new epoch.
    await live.redis.command("FLUSHDB")
    await live.stock.set_on_hand("R3", "S2", 4)
    await live.redis.command("SET", keys.EPOCH, "rebuilt")
    await _reloaded(replica, replica.loads)
    await _assert_mirrors_redis(live, replica)
    assert replica.positions.get("R2", "W1") == (0, 0, 0, 0, 0)


async def test_a_replica_joining_mid_load_converges(live: Engine, redis_url: str) -> None:
    rng = random.Random(3)
    writer = asyncio.create_task(_random_writes(live, rng, 400, "mid"))
    await asyncio.sleep(0.05)
    late = Engine.connect(redis_url, replica=True)
    try:
        await late.start_replica()
        await writer
        assert late.replica is not None
        await _assert_mirrors_redis(live, late.replica)
    finally:
        await late.close()


async def test_a_redis_emptied_without_any_epoch_makes_it_reload(live: Engine) -> None:
    """No journal here, so no epoch: the streams starting over give it away."""
    replica = live.replica
    assert replica is not None
    for _ in range(5):
        await live.stock.adjust("R4", "S1", 2, "receipt")
    await _assert_mirrors_redis(live, replica)
    await live.redis.command("FLUSHDB")
    await live.stock.adjust("R5", "S1", 1, "receipt")
    await _reloaded(replica, replica.loads)
    await _assert_mirrors_redis(live, replica)
    assert replica.positions.get("R4", "S1") == (0, 0, 0, 0, 0)


async def test_the_replica_never_creates_the_ledger_epoch(live: Engine) -> None:
    assert await live.redis.command("GET", keys.EPOCH) is None


async def test_as_of_covers_idle_partitions_up_to_the_newest_applied(live: Engine) -> None:
    """One XREAD reads every partition at one instant: once it brings a write, an idle
    partition's answer is complete up to (the millisecond before) that write too."""
    replica = live.replica
    assert replica is not None
    busy, idle = "R1", next(s for s in (f"Q{i}" for i in range(100)) if _other_partition(s, "R1"))
    await live.stock.adjust(idle, "S1", 1, "receipt")
    await _assert_mirrors_redis(live, replica)
    idle_id = replica.cursors[keys.partition_of_sku(idle)]
    await asyncio.sleep(0.01)  # a later millisecond
    written = await live.stock.adjust(busy, "S1", 1, "receipt")
    assert written.event_id is not None
    await _assert_mirrors_redis(live, replica)
    ms = int(written.event_id.split("-")[1])
    as_of = replica.as_of([keys.partition_of_sku(idle)])
    assert tuple(map(int, as_of.split("-"))) >= (ms - 1, 0) > tuple(map(int, idle_id.split("-")))


def _other_partition(sku: str, than: str) -> bool:
    return keys.partition_of_sku(sku) != keys.partition_of_sku(than)
