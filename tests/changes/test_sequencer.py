"""The sequencer turns the durable journal into the feed: every position event once, in
its SKU's order, with exactly one derived event per crossing, and a reset after Redis lost
the ledger."""

import asyncio
import itertools
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from atp.model import Channel, LedgerUnavailable
from atp.redis_io import RedisIO
from changes.sequencer import ChangeSequencer
from engine.durable import DurableEngine
from reservations.model import Line


@pytest.fixture
async def engine(db: asyncpg.Pool, jredis_url: str) -> AsyncIterator[DurableEngine]:
    opened = await DurableEngine.open(jredis_url, db)
    try:
        yield opened
    finally:
        await opened.close()


async def _sequencer(
    engine: DurableEngine, pg_dsn: str
) -> tuple[ChangeSequencer, "asyncpg.Connection[asyncpg.Record]"]:
    sequencer = ChangeSequencer(engine.redis, engine.durability, lambda: asyncpg.connect(pg_dsn))
    conn = await asyncpg.connect(pg_dsn)
    await sequencer.take_over(conn)
    return sequencer, conn


async def _drain(sequencer: ChangeSequencer, conn: "asyncpg.Connection[asyncpg.Record]") -> None:
    while await sequencer.round(conn):
        pass


async def _feed(db: asyncpg.Pool) -> list[tuple[str, str, str, str, dict[str, object]]]:
    rows = await db.fetch(
        "SELECT type, location, location_group, channel, data FROM changes ORDER BY seq"
    )
    return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


async def test_a_restock_and_a_sell_out_derive_one_event_per_crossing(
    db: asyncpg.Pool, engine: DurableEngine, pg_dsn: str
) -> None:
    await engine.availability.define_group("OSLO", ["S1", "S2"])
    await db.execute(
        "INSERT INTO low_stock_thresholds (sku, location, threshold) VALUES ('A', 'S1', 2)"
    )
    sequencer, conn = await _sequencer(engine, pg_dsn)
    try:
        await _drain(sequencer, conn)  # the group's definition
        assert (await engine.stock.adjust("A", "S1", 5, "receipt")).ok
        lines = [Line("A", "S1", 4)]
        assert (await engine.reservations.reserve("R1", "online", lines, 600)).ok
        assert (await engine.reservations.reserve("R2", "online", [Line("A", "S1", 1)], 600)).ok
        await _drain(sequencer, conn)
        feed = await _feed(db)
    finally:
        await conn.close()
    kinds = [(t, loc, grp, ch) for t, loc, grp, ch, _ in feed]
    assert kinds == [
        ("adjusted", "S1", "", ""),
        ("availability_changed", "S1", "", "online"),
        ("back_in_stock", "S1", "", "online"),
        ("availability_changed", "S1", "", "store"),
        ("back_in_stock", "S1", "", "store"),
        ("availability_changed", "", "OSLO", "online"),
        ("back_in_stock", "", "OSLO", "online"),
        ("availability_changed", "", "OSLO", "store"),
        ("back_in_stock", "", "OSLO", "store"),
        ("reserved", "S1", "", ""),
        ("availability_changed", "S1", "", "online"),
        ("low_stock", "S1", "", "online"),
        ("availability_changed", "S1", "", "store"),
        ("low_stock", "S1", "", "store"),
        ("availability_changed", "", "OSLO", "online"),
        ("low_stock", "", "OSLO", "online"),  # 5 -> 1 crosses the default threshold (3)
        ("availability_changed", "", "OSLO", "store"),
        ("low_stock", "", "OSLO", "store"),
        ("reserved", "S1", "", ""),
        ("availability_changed", "S1", "", "online"),
        ("went_unavailable", "S1", "", "online"),
        ("availability_changed", "S1", "", "store"),
        ("went_unavailable", "S1", "", "store"),
        ("availability_changed", "", "OSLO", "online"),
        ("went_unavailable", "", "OSLO", "online"),
        ("availability_changed", "", "OSLO", "store"),
        ("went_unavailable", "", "OSLO", "store"),
    ]
    low = feed[11][4]
    assert (low["atp_before"], low["atp_after"], low["threshold"]) == (5, 1, 2)
    assert "reservation_id" not in feed[9][4]  # another customer's order is not published


async def _when_rebuilt(engine: DurableEngine) -> None:
    with pytest.raises(LedgerUnavailable):  # found lost: the rebuild starts
        await engine.stock.adjust("A", "S1", 1, "receipt")
    for _ in range(200):
        if engine.ready:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the ledger was not rebuilt")


async def test_every_journaled_event_once_in_order_across_a_lost_redis(
    db: asyncpg.Pool, engine: DurableEngine, pg_dsn: str, rio: RedisIO
) -> None:
    sequencer, conn = await _sequencer(engine, pg_dsn)
    try:
        for _ in range(5):
            assert (await engine.stock.adjust("A", "S1", 1, "receipt")).ok
        await _drain(sequencer, conn)
        for _ in range(3):
            assert (await engine.stock.adjust("A", "S1", 1, "receipt")).ok  # journaled, not fed
        await rio.command("FLUSHDB")  # Redis restarts empty
        await _when_rebuilt(engine)
        assert (await engine.stock.adjust("A", "S1", 1, "receipt")).ok
        await _drain(sequencer, conn)
        feed = await _feed(db)
    finally:
        await conn.close()
    on_hand = [d["on_hand"] for t, _, _, _, d in feed if t == "adjusted"]
    assert on_hand == list(range(1, 10))
    types = [t for t, *_ in feed]
    assert types.count("reset") == 1
    old_ledger_last = next(
        i for i, (t, *_, d) in enumerate(feed) if t == "adjusted" and d["on_hand"] == 8
    )
    assert types.index("reset") > old_ledger_last  # after every event of the old ledger


async def test_concurrent_writers_leave_a_chain_of_crossings_per_location_and_group(
    db: asyncpg.Pool, engine: DurableEngine, pg_dsn: str
) -> None:
    """Holds, releases, sales and receipts racing on one SKU at two stores while the
    sequencer runs: per location, group and channel the derived events chain (each
    atp_before is the previous atp_after), crossings alternate, and the last matches the
    ledger."""
    await engine.availability.define_group("CITY", ["S1", "S2"])
    sequencer = ChangeSequencer(engine.redis, engine.durability, lambda: asyncpg.connect(pg_dsn))
    sequencer.start()
    try:
        for _ in range(200):
            if sequencer.leading:
                break
            await asyncio.sleep(0.01)

        async def worker(n: int) -> None:
            location = ("S1", "S2")[n % 2]
            for i in range(15):
                if i % 3 == 0:
                    await engine.stock.adjust("A", location, 2, "receipt")
                rid = f"R{n}-{i}"
                held = await engine.reservations.reserve(
                    rid, "online", [Line("A", location, 1)], 60
                )
                if held.ok and i % 2:
                    await engine.reservations.release(rid)
                elif not held.ok:
                    await engine.stock.adjust("A", location, 1, "receipt")

        await asyncio.gather(*(worker(n) for n in range(8)))
        for _ in range(300):
            if not await sequencer.round_pending():
                break
            await asyncio.sleep(0.02)
    finally:
        await sequencer.stop()
    feed = await _feed(db)
    chains: dict[tuple[str, str], list[dict[str, object]]] = {}
    for kind, location, group, channel, data in feed:
        if kind == "availability_changed":
            chains.setdefault((location or "group:" + group, channel), []).append(data)
    assert set(chains) == {(w, c) for w in ("S1", "S2", "group:CITY") for c in ("online", "store")}
    for (where, channel), chain in chains.items():
        for previous, this in itertools.pairwise(chain):
            assert this["atp_before"] == previous["atp_after"], (where, channel)
        crossings = [
            kind for kind, location, group, ch, _ in feed
            if kind in ("back_in_stock", "went_unavailable") and ch == channel
            and (location or "group:" + group) == where
        ]  # fmt: skip
        assert all(a != b for a, b in itertools.pairwise(crossings)), where
    final = {
        loc: (await engine.availability.position("A", loc)).atp(Channel.online)
        for loc in ("S1", "S2")
    }
    assert chains[("S1", "online")][-1]["atp_after"] == final["S1"]
    assert chains[("group:CITY", "online")][-1]["atp_after"] == final["S1"] + final["S2"]


async def test_one_sequencer_leads_and_another_takes_over_where_it_stopped(
    db: asyncpg.Pool, engine: DurableEngine, pg_dsn: str
) -> None:
    """Two processes' sequencers: one holds the lock; when it dies (its session ends)
    the other continues from the committed cursors, so each event is in the feed once."""
    first = ChangeSequencer(engine.redis, engine.durability, lambda: asyncpg.connect(pg_dsn))
    second = ChangeSequencer(engine.redis, engine.durability, lambda: asyncpg.connect(pg_dsn))
    first.start()
    for _ in range(200):
        if first.leading:
            break
        await asyncio.sleep(0.01)
    second.start()
    try:
        for _ in range(10):
            assert (await engine.stock.adjust("A", "S1", 1, "receipt")).ok
        for _ in range(200):
            if first.appended >= 10 * 5 - 4:  # back in stock once per channel
                break
            await asyncio.sleep(0.01)
        assert not second.leading
        await first.stop()  # killed: its session, and with it the lock, ends
        for _ in range(10):
            assert (await engine.stock.adjust("A", "S1", 1, "receipt")).ok
        for _ in range(400):
            if second.leading and not await second.round_pending():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    finally:
        await first.stop()
        await second.stop()
    assert second.appended > 0
    on_hand = [d["on_hand"] for t, _, _, _, d in await _feed(db) if t == "adjusted"]
    assert on_hand == list(range(1, 21))
