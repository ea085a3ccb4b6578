"""A replica that holds only some ledger partitions (ATP_REPLICA_PARTITIONS, issue 17): it
loads and follows just those, serves reads of their SKUs from memory and sends every other
read to Redis (the one read policy, atp/replica_reads.py), and never reloads for a
partition it does not follow."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.settings import SettingsError, from_env
from atp import keys
from atp.clock import ManualClock
from atp.keys import partition_of_sku, partitions_from_text
from atp.replica import Replica
from atp.replica_reads import replica_to_read
from engine.local import Engine
from support.harness import Api, serving, settings_for

HELD = frozenset(range(16))
CANDIDATES = [f"PART-{i}" for i in range(200)]
INSIDE = [s for s in CANDIDATES if partition_of_sku(s) in HELD][:4]
OUTSIDE = [s for s in CANDIDATES if partition_of_sku(s) not in HELD][:4]
CATCH_UP_S = 5.0
READY_WAIT_S = 10.0


def test_partitions_are_written_as_ranges_and_numbers() -> None:
    assert partitions_from_text("0-3, 7,30-31") == frozenset({0, 1, 2, 3, 7, 30, 31})
    assert partitions_from_text("5") == frozenset({5})
    for bad in ("32", "3-1", "a-b", "", "0-", "-4", "1;2"):
        with pytest.raises(ValueError):
            partitions_from_text(bad)


def test_a_bad_setting_names_the_variable() -> None:
    env = {"ATP_PG_DSN": "postgresql://postgres@127.0.0.1:5432/atp"}
    with pytest.raises(SettingsError, match="ATP_REPLICA_PARTITIONS"):
        from_env(env | {"ATP_REPLICA_PARTITIONS": "0-40"})
    assert from_env(env | {"ATP_REPLICA_PARTITIONS": "0-15"}).replica_partitions == HELD
    assert from_env(env).replica_partitions is None


@pytest.fixture
async def partial(redis_url: str) -> AsyncIterator[Engine]:
    engine = Engine.connect(redis_url)
    await engine.redis.command("FLUSHDB")
    for sku in INSIDE + OUTSIDE:  # written before the load: the load must sort them out
        await engine.stock.adjust(sku, "S1", 5, "receipt")
    await engine.close()
    engine = Engine.connect(redis_url, replica=True, replica_partitions=HELD)
    await engine.start_replica()
    yield engine
    await engine.close()


def _replica(engine: Engine) -> Replica:
    assert engine.replica is not None
    return engine.replica


async def _tip(engine: Engine, sku: str) -> tuple[int, str]:
    partition = partition_of_sku(sku)
    last = await engine.redis.command("XREVRANGE", keys.stream(partition), "+", "-", "COUNT", 1)
    return partition, str(last[0][0])


async def test_it_loads_and_follows_only_its_partitions(partial: Engine) -> None:
    replica = _replica(partial)
    assert replica.ready and replica.serving and not replica.whole
    assert set(replica.positions.sku_index) == set(INSIDE)
    await partial.stock.adjust(INSIDE[0], "S1", 2, "receipt")
    await partial.stock.adjust(OUTSIDE[0], "S1", 2, "receipt")
    assert await replica.caught_up([await _tip(partial, INSIDE[0])], CATCH_UP_S)
    assert replica.positions.get(INSIDE[0], "S1")[0] == 7
    assert OUTSIDE[0] not in replica.positions.sku_index


async def test_the_read_policy_sends_other_partitions_to_redis(partial: Engine) -> None:
    replica = _replica(partial)
    assert replica_to_read(replica, ledger_ready=True, skus=INSIDE) is replica
    assert replica_to_read(replica, ledger_ready=True, skus=OUTSIDE[:1]) is None
    assert replica_to_read(replica, ledger_ready=True, skus=[INSIDE[0], OUTSIDE[0]]) is None


async def test_a_stream_it_does_not_follow_never_makes_it_reload(partial: Engine) -> None:
    replica = _replica(partial)
    for _ in range(5):
        await partial.stock.adjust(OUTSIDE[0], "S1", 1, "receipt")
    await partial.redis.command("XTRIM", keys.stream(partition_of_sku(OUTSIDE[0])), "MAXLEN", 0)
    assert not await replica._needs_reload()
    await replica.stop()  # stopped: the next writes of a held partition pile up unseen
    await partial.stock.adjust(INSIDE[0], "S1", 1, "receipt")
    await partial.redis.command("XTRIM", keys.stream(partition_of_sku(INSIDE[0])), "MAXLEN", 0)
    assert await replica._needs_reload()  # trimmed before it was read: it must reload


@pytest.fixture
async def api_partial(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    settings = settings_for(redis_url, pg_dsn, replica=True, replica_partitions=HELD)
    async with serving(settings, clock) as harness:
        replica = _replica(harness.services.engine)  # type: ignore[arg-type]
        for _ in range(int(READY_WAIT_S / 0.01)):  # it announces nothing: poll, bounded
            if replica.ready:
                break
            await asyncio.sleep(0.01)
        assert replica.ready
        yield harness


async def test_the_api_answers_held_skus_from_memory_and_others_from_redis(
    api_partial: Api,
) -> None:
    event_ids = {}
    for sku in (INSIDE[0], OUTSIDE[0]):
        body = {"sku": sku, "location": "S1", "delta": 3, "reason": "receipt"}
        r = await api_partial.call("POST", "/v1/stock/adjustments", "stock", body)
        assert r.status_code == 200, r.text
        event_ids[sku] = r.json()["event_id"]
    path = f"/v1/availability/{INSIDE[0]}?location=S1&after={event_ids[INSIDE[0]]}"
    held = await api_partial.call("GET", path, "reader")
    assert held.status_code == 200, held.text
    assert held.json()["consistency"] == "replica" and held.json()["rows"][0]["on_hand"] == 3
    strong = await api_partial.call("GET", f"/v1/availability/{OUTSIDE[0]}?location=S1", "reader")
    assert strong.status_code == 200, strong.text
    assert strong.json()["consistency"] == "strong" and strong.json()["rows"][0]["on_hand"] == 3
    batch = await api_partial.call(
        "POST",
        "/v1/availability/query",
        "reader",
        {"skus": [INSIDE[0], OUTSIDE[0]], "locations": ["S1"]},
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["consistency"] == "strong"
    assert [row["on_hand"] for row in batch.json()["rows"]] == [3, 3]
