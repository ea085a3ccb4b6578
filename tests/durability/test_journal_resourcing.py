"""A ledger rebuilt from the journal after re-sourcing: moved legs, the committed index, the
shortage set and attention items come back, and re-sourcing carries on from them."""

import asyncpg
import redis

from atp import keys
from atp.clock import ManualClock
from atp.redis_io import RedisIO
from durability.rebuild import ensure_ledger
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.local import Engine
from reservations.model import Line
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import Capability, LocationKind
from routing.resourcing import attention
from support.invariants_ledger import (
    check_ledger_invariants,
    open_units_by_position,
    positions_in_redis,
)

SKU = "SKU-1"
SHIP = frozenset({Capability.ship, Capability.ship_from_store})
DIRECTORY = InMemoryDirectory(
    [
        RoutingLocation("S1", LocationKind.store, SHIP, 60.0, 10.0, 100),
        RoutingLocation("W1", LocationKind.warehouse, SHIP, 60.2, 10.0, 100),
    ]
)


async def reserved_is_open_lines(redis: RedisIO) -> None:
    open_units = await open_units_by_position(redis)
    for pair, vector in (await positions_in_redis(redis)).items():
        assert vector[1] == open_units.get(pair, 0), pair


def resourcing_keys(url: str) -> dict[str, object]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        p = keys.partition_of_sku(SKU)
        return {
            "committed": client.zrange(keys.committed_index(p), 0, -1),
            "shortages": sorted(client.smembers(keys.shortages(p))),
            "attention": sorted(client.hkeys(keys.attention(p))),
        }
    finally:
        client.close()


async def test_rebuild_after_moves_restores_legs_index_shortages_and_flags(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    clock = ManualClock()
    engine = Engine.connect(jredis_url, clock, directory=DIRECTORY)
    assert engine.resourcer is not None
    try:
        async with db.acquire() as conn:
            await ensure_ledger(rio, conn)
        await create_groups(rio)
        await engine.stock.adjust(SKU, "S1", 10, "receipt")
        await engine.stock.adjust(SKU, "W1", 4, "receipt")
        for rid in ("r-old", "r-new"):
            assert (await engine.reservations.reserve(rid, "online", [Line(SKU, "S1", 5)])).ok
            assert (await engine.reservations.commit(rid)).ok
            clock.advance(1_000)
        await engine.stock.set_on_hand(SKU, "S1", 2)  # 8 short: 4 move, 4 flagged
        [outcome] = await engine.resourcer.run_once()
        assert outcome.moved == [("r-new", "W1", 4)]
        assert outcome.flagged == [("r-new", 1), ("r-old", 3)]
        before = {rid: await engine.reservations.get(rid) for rid in ("r-old", "r-new")}
        keys_before = resourcing_keys(jredis_url)
        assert len(keys_before["committed"]) == 3  # type: ignore[arg-type]
        items = await attention(rio)
        await check_ledger_invariants(rio)
        await JournalWriter(rio, db, "w").drain()
        async with db.acquire() as conn:
            assert await verify(rio, conn) == []  # legs fold from the journal as Redis has them

        await rio.command("FLUSHDB")
        async with db.acquire() as conn:
            assert await ensure_ledger(rio, conn) is not None
            assert await verify(rio, conn) == []
            await replay_positions(conn)
        assert {rid: await engine.reservations.get(rid) for rid in before} == before
        assert resourcing_keys(jredis_url) == keys_before
        assert await attention(rio) == items
        await reserved_is_open_lines(rio)  # (the streams start empty: no replay to check)

        # Stock arrives: re-sourcing continues from the restored state.
        await engine.stock.adjust(SKU, "W1", 10, "receipt")
        [later] = await engine.resourcer.run_once()
        assert sum(qty for _, _, qty in later.moved) == 4
        assert await attention(rio) == []
        assert (await engine.reservations.fulfill("r-new")).ok
        await reserved_is_open_lines(rio)
        await JournalWriter(rio, db, "w").drain()
        async with db.acquire() as conn:
            assert await verify(rio, conn) == []
            await rio.command("HINCRBY", keys.leg(keys.partition_of_sku(SKU), "r-old"), "q1", 1)
            assert [d.kind for d in await verify(rio, conn)] == ["leg"]
    finally:
        await engine.close()
