"""After Redis is lost and rebuilt from PostgreSQL, a client's retry answers duplicate and
applies once: register replays (device logs and receipts, voids included), partial fulfill
and release op ids, allocations' route records, location groups; and a finished
reservation is still known to the journal (durability/history.py)."""

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest

from atp import keys
from atp.clock import ManualClock
from atp.keys import device_log
from atp.keys import register_receipt as receipt
from atp.redis_io import Arg, RedisIO
from atp.register_events import _CLAIM as CLAIM
from atp.register_events import RegisterEvent, Registers
from atp.register_events import RegisterEventKind as Kind
from atp.register_events import RegisterEventStatus as Status
from durability.history import reservation_from_journal
from durability.rebuild import ensure_ledger
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.local import Engine
from reservations.model import Line, State, TransitionResult
from routing.live import AllocateResult, allocate
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import Capability, LocationKind, Order, OrderLine, Policy, ShipTo

AT = 1_790_000_000_000


@pytest.fixture
async def engine(db: asyncpg.Pool, jredis_url: str, rio: RedisIO) -> AsyncIterator[Engine]:
    clock = ManualClock()
    made = Engine.connect(jredis_url, clock)
    async with db.acquire() as conn:
        await ensure_ledger(rio, conn)
    await create_groups(rio)
    yield made
    await made.close()


async def lose_redis(rio: RedisIO, db: asyncpg.Pool) -> None:
    """Everything journaled, then Redis comes back empty and is rebuilt."""
    await JournalWriter(rio, db, "w").drain()
    await rio.command("FLUSHDB")
    async with db.acquire() as conn:
        assert await ensure_ledger(rio, conn) is not None


def sale(eid: str, seq: int, qty: int, kind: Kind = Kind.sale) -> RegisterEvent:
    return RegisterEvent(kind, eid, seq, AT + seq, "A", "S1", qty)


def void(eid: str, seq: int, target: str) -> RegisterEvent:
    return RegisterEvent(Kind.void, eid, seq, AT + seq, voids=target)


async def device_state(rio: RedisIO, device: str, eids: list[str]) -> dict[str, object]:
    """The device log (records decoded) and every receipt, as Redis holds them."""
    log = await rio.command("HGETALL", device_log(device))
    pairs = log.items() if isinstance(log, dict) else zip(log[::2], log[1::2], strict=True)
    found: dict[str, object] = {k: json.loads(v) if k.startswith("e:") else v for k, v in pairs}
    for eid in eids:
        raw = await rio.command("HGETALL", receipt("A", device, eid))
        found[eid] = raw if isinstance(raw, dict) else dict(zip(raw[::2], raw[1::2], strict=True))
    return found


async def test_register_replays_after_a_rebuild_apply_once(
    engine: Engine, db: asyncpg.Pool, rio: RedisIO
) -> None:
    registers = Registers(rio, ManualClock())
    await engine.stock.adjust("A", "S1", 5, "receipt")
    queue = [sale("e1", 1, 2), sale("e2", 2, 1, Kind.return_), sale("e3", 3, 6)]
    assert [r.status for r in await registers.replay("till-1", queue)] == [Status.applied] * 3
    # e5 is claimed but its apply never ran (a crash between the steps); v2 voids it first.
    ahead = sale("e5", 5, 1)
    args: list[Arg] = [
        3600,
        ahead.event_id,
        ahead.device_seq,
        ahead.digest(),
        "sale",
        "A",
        "S1",
        1,
        "",
    ]
    await rio.run(CLAIM, [device_log("till-1")], args)
    voids = [void("v1", 4, "e2"), void("v2", 6, "e5")]
    assert [r.status for r in await registers.replay("till-1", voids)] == [Status.applied] * 2
    before = await engine.availability.position("A", "S1")
    oversold = await registers.oversold([("A", "S1")])
    eids = ["e1", "e2", "e3", "e5", "v1", "v2"]
    state = await device_state(rio, "till-1", eids)

    await lose_redis(rio, db)

    assert await device_state(rio, "till-1", eids) == state
    async with db.acquire() as conn:  # pos_voided_ahead is a zero-delta position event
        assert await verify(rio, conn) == []
        await replay_positions(conn)
    for batch in (queue, [ahead], voids, [voids[1]], [*queue, voids[0], ahead, voids[1]]):
        results = await registers.replay("till-1", batch)
        assert [r.status for r in results] == [Status.duplicate] * len(batch), results
    assert (await registers.replay("till-1", queue))[2].oversold == 2  # e3's reply, as first given
    assert await engine.availability.position("A", "S1") == before
    assert await registers.oversold([("A", "S1")]) == oversold
    again = await registers.replay("till-1", [void("v9", 9, "e1")])  # the log goes on as before
    assert again[0].status is Status.applied
    assert (await engine.availability.position("A", "S1")).on_hand == before.on_hand + 2


async def test_partial_settle_op_ids_answer_duplicate_after_a_rebuild(
    engine: Engine, db: asyncpg.Pool, rio: RedisIO
) -> None:
    res = engine.reservations
    await engine.stock.adjust("A", "S1", 10, "receipt")
    await engine.stock.adjust("B", "S1", 10, "receipt")
    assert (await res.reserve("R1", "online", [Line("A", "S1", 4), Line("B", "S1", 3)])).ok
    assert (await res.commit("R1")).ok
    assert (await res.fulfill("R1", [Line("A", "S1", 1)], op_id="f-1")).ok
    assert (await res.release("R1", [Line("B", "S1", 2)], op_id="r-1")).ok
    held = await res.get("R1")

    await lose_redis(rio, db)

    retry = await res.fulfill("R1", [Line("A", "S1", 1)], op_id="f-1")
    assert retry.result is TransitionResult.duplicate
    assert (await res.release("R1", [Line("B", "S1", 2)], op_id="r-1")).result is (
        TransitionResult.duplicate
    )
    other = await res.release("R1", [Line("B", "S1", 1)], op_id="f-1")
    assert other.result is TransitionResult.op_conflict
    assert await res.get("R1") == held
    assert (await engine.availability.position("A", "S1")).on_hand == 9


async def test_route_records_and_groups_survive_a_rebuild(
    engine: Engine, db: asyncpg.Pool, rio: RedisIO
) -> None:
    store = RoutingLocation(
        "S1", LocationKind.store, frozenset({Capability.ship_from_store}), 60, 10, 50
    )
    await engine.stock.adjust("A", "S1", 5, "receipt")
    order = Order([OrderLine("A", 2)], ShipTo(60.0, 10.0))
    flat = Policy(depth_threshold_units=0, capacity_cost=0.0)
    done = await allocate(engine, "o-1", order, InMemoryDirectory([store]), flat)
    assert done.result is AllocateResult.allocated
    route = await rio.command("GET", keys.route("o-1"))
    # The catalog says one thing; define_group (what the importer calls after) wins.
    await db.execute("INSERT INTO location_groups (name) VALUES ('oslo'), ('bergen')")
    await db.execute(
        "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone)"
        " VALUES ('S9', 'S9', 'store', 60, 10, 'Europe/Oslo')"
    )
    await db.execute("INSERT INTO location_group_members VALUES ('oslo', 'S9'), ('bergen', 'S9')")
    await engine.availability.define_group("oslo", ["S1", "S2"])
    await engine.availability.define_group("oslo", ["S1", "S3"])

    await lose_redis(rio, db)

    assert route and await rio.command("GET", keys.route("o-1")) == route
    assert await rio.command("TTL", keys.route("o-1")) > 0
    assert await engine.availability.group_members("oslo") == ["S1", "S3"]
    assert await engine.availability.group_members("bergen") == ["S9"]


async def test_finished_reservations_are_read_back_from_the_journal(
    engine: Engine, db: asyncpg.Pool, rio: RedisIO
) -> None:
    res = engine.reservations
    await engine.stock.adjust("A", "S1", 10, "receipt")
    await engine.stock.adjust("B", "W1", 10, "receipt")
    lines = [Line("A", "S1", 2), Line("B", "W1", 3)]
    assert (await res.reserve("R-done", "store", lines)).ok
    assert (await res.commit("R-done")).ok
    assert (await res.fulfill("R-done", [Line("A", "S1", 1)])).ok
    assert (await res.release("R-done", [Line("A", "S1", 1)])).ok
    assert (await res.fulfill("R-done")).ok
    assert (await res.reserve("R-rel", "online", lines)).ok
    assert (await res.release("R-rel")).ok
    assert (await res.reserve("R-exp", "online", lines, 1)).ok
    assert (await res.reserve("R-live", "online", [Line("A", "S1", 1)], 600)).ok
    engine.reservations.clock.advance(5_000)  # type: ignore[attr-defined]
    await engine.sweeper.sweep_once()
    ids = ("R-done", "R-rel", "R-exp", "R-live")
    before = {rid: await res.get(rid) for rid in ids}
    assert before["R-exp"] is not None and before["R-exp"].state is State.expired

    await lose_redis(rio, db)

    assert await res.get("R-done") is None  # ended: not rebuilt into Redis
    for rid in ids:
        assert await reservation_from_journal(db, rid) == before[rid], rid
    async with db.acquire() as conn:
        assert await reservation_from_journal(conn, "R-none") is None
