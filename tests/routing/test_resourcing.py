"""Re-sourcing on the real local Redis: a stock change leaves a position short, the newest
committed reservations move to the cheapest other location, the rest is flagged."""

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from atp import keys
from atp.clock import ManualClock
from atp.events import read_all_events
from atp.model import Channel, Event
from atp.register_events import RegisterEvent, RegisterEventKind, Registers
from engine.local import Engine
from oracles.ledger import ReferenceLedger
from oracles.reservations import ReferenceReservations
from reservations import calls
from reservations.model import Line, LineStatus, State
from reservations.replies import MoveReply
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import (
    Capability,
    LocationKind,
    NearMe,
    Order,
    OrderLine,
    PickupAt,
    ShipTo,
)
from routing.resourcing import Resourcer, attention, resolve
from routing.resourcing_rules import Claim, Committed, claims, index_bounds, order_for
from support.invariants_ledger import check_ledger_invariants

SKU = "SKU-1"
HOME = (60.0, 10.0)
KM_PER_DEG_LAT = 111.195
WAREHOUSE = frozenset({Capability.ship})
STORE = frozenset({Capability.ship_from_store, Capability.pickup})


def at(name: str, km: float, kind: LocationKind = LocationKind.warehouse) -> RoutingLocation:
    caps = WAREHOUSE if kind is LocationKind.warehouse else STORE
    return RoutingLocation(name, kind, caps, HOME[0] + km / KM_PER_DEG_LAT, HOME[1], 1_000)


LOCATIONS = [at("S1", 0, LocationKind.store), at("W-NEAR", 20), at("W-FAR", 400)]
DIRECTORY = InMemoryDirectory(LOCATIONS)
DIRECTORY_LOCATIONS = {loc.location: loc for loc in LOCATIONS}


@pytest.fixture
async def engine(redis_url: str, clock: ManualClock) -> AsyncIterator[Engine]:
    eng = Engine.connect(redis_url, clock, directory=DIRECTORY)
    yield eng
    await eng.close()


def resourcer(engine: Engine) -> Resourcer:
    assert engine.resourcer is not None
    return engine.resourcer


async def stock(engine: Engine, **on_hand: int) -> None:
    for loc, qty in on_hand.items():
        await engine.stock.adjust(SKU, loc.replace("_", "-"), qty, "receipt")


async def commit(engine: Engine, clock: ManualClock, rid: str, qty: int, loc: str = "S1") -> None:
    assert (await engine.reservations.reserve(rid, "online", [Line(SKU, loc, qty)])).ok
    assert (await engine.reservations.commit(rid)).ok
    clock.advance(1_000)  # commits in a known order: newest is the last


def open_at(lines: list[LineStatus]) -> dict[str, int]:
    return {ln.location: ln.open for ln in lines if ln.open}


async def open_lines(engine: Engine, rid: str) -> dict[str, int]:
    r = await engine.reservations.get(rid)
    assert r is not None
    return open_at(r.lines)


async def shortages(engine: Engine) -> list[str]:
    return list(await engine.redis.command("SMEMBERS", keys.shortages(keys.partition_of_sku(SKU))))


async def events_of(engine: Engine, kind: str) -> list[Event]:
    found = await read_all_events(engine.redis)
    return [e for es in found.values() for e in es if e.type == kind]


async def test_count_below_reserved_moves_the_newest_to_the_cheapest_location(
    engine: Engine, clock: ManualClock
) -> None:
    await stock(engine, S1=10, W_NEAR=10, W_FAR=10)
    for rid in ("r-old", "r-mid", "r-new"):
        await commit(engine, clock, rid, 3)
    counted = await engine.stock.set_on_hand(SKU, "S1", 5)  # 9 reserved: 4 short
    assert counted.position.short == 4
    assert await shortages(engine) == ["S1|SKU-1"]

    outcomes = await resourcer(engine).run_once()
    assert [o.moved for o in outcomes] == [[("r-new", "W-NEAR", 3), ("r-mid", "W-NEAR", 1)]]
    assert await open_lines(engine, "r-new") == {"W-NEAR": 3}
    assert await open_lines(engine, "r-mid") == {"S1": 2, "W-NEAR": 1}
    assert await open_lines(engine, "r-old") == {"S1": 3}
    s1 = await engine.availability.position(SKU, "S1")
    assert (s1.on_hand, s1.reserved) == (5, 5)
    assert (await engine.availability.position(SKU, "W-NEAR")).reserved == 4
    assert await shortages(engine) == []
    moved = await events_of(engine, "reservation_moved")
    assert [(e.location, e.d_reserved, e.reservation_id, e.reason) for e in moved] == [
        ("S1", -3, "r-new", "S1>W-NEAR"),
        ("W-NEAR", 3, "r-new", "S1>W-NEAR"),
        ("S1", -1, "r-mid", "S1>W-NEAR"),
        ("W-NEAR", 1, "r-mid", "S1>W-NEAR"),
    ]
    assert await attention(engine.redis) == []
    await check_ledger_invariants(engine.redis)

    # The moved units settle where they now are, and leave the committed index.
    assert (await engine.reservations.fulfill("r-new")).ok
    assert (await engine.reservations.release("r-mid")).ok
    assert (await engine.reservations.release("r-old")).ok
    index = keys.committed_index(keys.partition_of_sku(SKU))
    assert await engine.redis.command("ZCARD", index) == 0
    await check_ledger_invariants(engine.redis)


async def test_a_partial_move_flags_the_rest_until_stock_arrives(
    engine: Engine, clock: ManualClock
) -> None:
    await stock(engine, S1=6, W_NEAR=2)
    await commit(engine, clock, "r1", 5)
    await engine.stock.adjust(SKU, "S1", -4, "damage")  # 5 reserved, 2 on hand: 3 short
    [outcome] = await resourcer(engine).run_once()
    assert outcome.moved == [("r1", "W-NEAR", 2)]
    assert outcome.flagged == [("r1", 1)]
    assert await open_lines(engine, "r1") == {"S1": 3, "W-NEAR": 2}
    [item] = await attention(engine.redis)
    assert (item.reservation_id, item.sku, item.location, item.units) == ("r1", SKU, "S1", 1)
    [flagged] = await events_of(engine, "reservation_flagged")
    assert (flagged.location, flagged.reason, flagged.d_reserved) == ("S1", "1:no_location", 0)
    assert await shortages(engine) == ["S1|SKU-1"]  # still short: looked at again next pass
    await check_ledger_invariants(engine.redis)

    # The same pass again changes nothing (no second flag event).
    [again] = await resourcer(engine).run_once()
    assert again.moved == [] and again.flagged == [("r1", 1)]
    assert len(await events_of(engine, "reservation_flagged")) == 1

    await engine.stock.adjust(SKU, "W-FAR", 5, "receipt")
    [later] = await resourcer(engine).run_once()
    assert later.moved == [("r1", "W-FAR", 1)]
    assert await attention(engine.redis) == []  # the flag resolved itself
    assert await open_lines(engine, "r1") == {"S1": 2, "W-NEAR": 2, "W-FAR": 1}
    assert await shortages(engine) == []
    await check_ledger_invariants(engine.redis)


async def test_nowhere_to_go_flags_for_a_human_who_resolves_it(
    engine: Engine, clock: ManualClock
) -> None:
    await stock(engine, S1=4)
    await commit(engine, clock, "r1", 2)
    await commit(engine, clock, "r2", 2)
    await engine.stock.set_on_hand(SKU, "S1", 1)  # 3 short
    [outcome] = await resourcer(engine).run_once()
    assert outcome.moved == []
    assert outcome.flagged == [("r2", 2), ("r1", 1)]  # newest first, up to the shortage
    items = await attention(engine.redis)
    assert {(i.reservation_id, i.units, i.why) for i in items} == {
        ("r2", 2, "no_location"),
        ("r1", 1, "no_location"),
    }
    assert await resolve(engine.redis, "r2", SKU, "S1", "called_customer")
    assert not await resolve(engine.redis, "r2", SKU, "S1")
    [resolved] = await events_of(engine, "reservation_flag_resolved")
    assert (resolved.reservation_id, resolved.reason) == ("r2", "called_customer")
    await check_ledger_invariants(engine.redis)

    # A receipt ends the shortage: the set and the remaining flag clear on the next pass.
    await engine.stock.adjust(SKU, "S1", 3, "receipt")
    [cleared] = await resourcer(engine).run_once()
    assert cleared.cleared
    assert await shortages(engine) == [] and await attention(engine.redis) == []


async def test_a_location_missing_from_the_directory_is_flagged(
    engine: Engine, clock: ManualClock
) -> None:
    await stock(engine, S9=2, W_NEAR=5)
    await commit(engine, clock, "r1", 2, loc="S9")
    await engine.stock.set_on_hand(SKU, "S9", 0)
    [outcome] = await resourcer(engine).run_once()
    assert outcome.flagged == [("r1", 2)]
    [item] = await attention(engine.redis)
    assert item.why == "unknown_location"


async def test_a_retried_move_applies_once(engine: Engine, clock: ManualClock) -> None:
    await stock(engine, S1=5, W_NEAR=5)
    await commit(engine, clock, "r1", 4)
    now = clock.now_ms()

    async def move(op: str, qty: int = 2) -> MoveReply:
        return await calls.leg_move(
            engine.redis, "r1", SKU, "S1", "W-NEAR", qty, short_only=False, op_id=op, now_ms=now
        )

    assert await move("mv-1") == MoveReply.from_reply(["applied", 2])
    assert await move("mv-1") == MoveReply.from_reply(["duplicate"])
    assert await move("mv-1", 1) == MoveReply.from_reply(["op_conflict"])
    assert await open_lines(engine, "r1") == {"S1": 2, "W-NEAR": 2}
    assert await move("mv-2", 3) == MoveReply.from_reply(["exceeds_open", 2])
    assert await move("mv-3", 2) == MoveReply.from_reply(
        ["applied", 2]
    )  # the whole line; it merges, no new line
    r = await engine.reservations.get("r1")
    assert r is not None and [(ln.location, ln.qty, ln.open) for ln in r.lines] == [
        ("S1", 0, 0),
        ("W-NEAR", 4, 4),
    ]
    assert await move("mv-4", 1) == MoveReply.from_reply(
        ["exceeds_open", 0]
    )  # S1 has no open unit left
    assert (await engine.availability.position(SKU, "W-NEAR")).reserved == 4
    await check_ledger_invariants(engine.redis)


async def test_a_move_respects_the_target_and_the_state(engine: Engine, clock: ManualClock) -> None:
    await stock(engine, S1=5, W_NEAR=3)
    await engine.stock.set_safety(SKU, "W-NEAR", 2)
    assert (await engine.reservations.reserve("held", "online", [Line(SKU, "S1", 2)])).ok
    await commit(engine, clock, "r1", 2)
    now = clock.now_ms()
    held = await calls.leg_move(
        engine.redis, "held", SKU, "S1", "W-NEAR", 1, short_only=False, op_id="", now_ms=now
    )
    assert held == MoveReply.from_reply(["illegal", "held"])
    over = await calls.leg_move(
        engine.redis, "r1", SKU, "S1", "W-NEAR", 2, short_only=False, op_id="", now_ms=now
    )
    assert over == MoveReply.from_reply(["insufficient", 1])  # online: 3 on hand - 2 safety
    not_short = await calls.leg_move(
        engine.redis, "r1", SKU, "S1", "W-NEAR", 1, short_only=True, op_id="", now_ms=now
    )
    assert not_short == MoveReply.from_reply(["not_short"])


async def test_holds_are_not_moved(engine: Engine, clock: ManualClock) -> None:
    await stock(engine, S1=5, W_NEAR=10)
    assert (await engine.reservations.reserve("hold", "online", [Line(SKU, "S1", 3)])).ok
    await commit(engine, clock, "r1", 2)
    await engine.stock.set_on_hand(SKU, "S1", 1)  # 5 reserved: 4 short, only 2 committed
    [outcome] = await resourcer(engine).run_once()
    assert outcome.moved == [("r1", "W-NEAR", 2)]
    assert await open_lines(engine, "hold") == {"S1": 3}
    hold = await engine.reservations.get("hold")
    assert hold is not None and hold.state is State.held
    assert await shortages(engine) == ["S1|SKU-1"]  # the hold keeps it short (until it ends)
    await check_ledger_invariants(engine.redis)
    assert (await engine.reservations.release("hold")).ok
    [cleared] = await resourcer(engine).run_once()
    assert cleared.cleared and await shortages(engine) == []


async def test_two_resourcers_racing_move_each_unit_once(
    engine: Engine, redis_url: str, clock: ManualClock
) -> None:
    other = Engine.connect(redis_url, clock, directory=DIRECTORY)
    try:
        await stock(engine, S1=20, W_NEAR=30, W_FAR=30)
        for i in range(6):
            await commit(engine, clock, f"r{i}", 3)
        await engine.stock.set_on_hand(SKU, "S1", 7)  # 18 reserved: 11 short
        first, second = await asyncio.gather(
            resourcer(engine).run_once(), resourcer(other).run_once()
        )
        moved = [m for o in first + second for m in o.moved]
        assert sum(qty for _, _, qty in moved) == 11
        s1 = await engine.availability.position(SKU, "S1")
        assert (s1.on_hand, s1.reserved) == (7, 7)
        assert await attention(engine.redis) == []
        await check_ledger_invariants(engine.redis)
    finally:
        await other.close()


async def test_a_pos_sale_replayed_offline_that_oversells_triggers_it(
    engine: Engine, clock: ManualClock
) -> None:
    await stock(engine, S1=3, W_NEAR=5)
    await commit(engine, clock, "r1", 2)
    sale = RegisterEvent(RegisterEventKind.sale, "e1", 1, clock.now_ms(), SKU, "S1", 3)
    [result] = await Registers(engine.redis, clock).replay("till-1", [sale])
    assert result.oversold == 2
    assert await shortages(engine) == ["S1|SKU-1"]
    [outcome] = await resourcer(engine).run_once()
    assert outcome.moved == [("r1", "W-NEAR", 2)]
    await check_ledger_invariants(engine.redis)


async def test_the_background_task_runs_it(redis_url: str, clock: ManualClock) -> None:
    eng = Engine.connect(redis_url, clock, directory=DIRECTORY)
    assert eng.resourcer is not None
    eng.resourcer.interval_s = 0.01
    try:
        await stock(eng, S1=2, W_NEAR=2)
        await commit(eng, clock, "r1", 2)
        eng.start()
        await eng.stock.set_on_hand(SKU, "S1", 0)
        for _ in range(500):  # bounded wait, no wall-clock assertion
            if await open_lines(eng, "r1") == {"W-NEAR": 2}:
                break
            await asyncio.sleep(0.01)
        assert await open_lines(eng, "r1") == {"W-NEAR": 2}
    finally:
        await eng.close()


async def test_moves_agree_with_the_reference_model(engine: Engine, clock: ManualClock) -> None:
    ledger = ReferenceLedger()
    model = ReferenceReservations(ledger)
    now = clock.now_ms()
    for loc, qty in (("S1", 6), ("W-NEAR", 4)):
        await engine.stock.adjust(SKU, loc, qty, "receipt")
        ledger.adjust(SKU, loc, qty, "receipt", "", now)
    for rid in ("a", "b"):
        assert (await engine.reservations.reserve(rid, Channel.online, [Line(SKU, "S1", 3)])).ok
        model.reserve(rid, Channel.online, [Line(SKU, "S1", 3)], 900, now)
        assert (await engine.reservations.commit(rid)).ok
        model.commit(rid, now)
    await engine.stock.set_on_hand(SKU, "S1", 2)
    ledger.set_on_hand(SKU, "S1", 2, None, "cycle_count", "", now)
    steps = [("b", 3, True, "o1"), ("b", 1, True, "o1"), ("a", 3, True, "o2"), ("a", 1, False, "")]
    for rid, qty, short_only, op in steps:
        real = await calls.leg_move(
            engine.redis, rid, SKU, "S1", "W-NEAR", qty, short_only=short_only, op_id=op, now_ms=now
        )
        assert real == MoveReply.from_reply(
            model.move(rid, SKU, "S1", "W-NEAR", qty, short_only, op, now)
        )
        for r in ("a", "b"):
            assert await engine.reservations.get(r) == model.get(r)
    events = await read_all_events(engine.redis)
    p = keys.partition_of_sku(SKU)
    assert [(e.type, e.location, e.d_reserved) for e in events[p]] == [
        (e.type, e.location, e.d_reserved) for e in ledger.events[p]
    ]
    await check_ledger_invariants(engine.redis, events)


def test_claims_take_the_newest_first() -> None:
    committed = [
        Committed("old", Channel.online, 3, 1),
        Committed("new", Channel.online, 2, 3),
        Committed("mid", Channel.store, 4, 2),
    ]
    assert [(c.rid, c.units) for c in claims(5, committed)] == [("new", 2), ("mid", 3)]
    assert claims(0, committed) == []
    high, low = index_bounds("S1", "A")  # Redis lex bounds: '(' exclusive, '[' inclusive
    assert low[1:] < "S1|A|000000000000001|r" < high[1:]
    assert not (low[1:] < "S1|A.B|000000000000001|r" < high[1:])
    assert not (low[1:] < "S1|AB|000000000000001|r" < high[1:])


async def test_a_routed_order_moves_toward_its_destination_and_a_pickup_goes_to_a_person(
    engine: Engine, clock: ManualClock
) -> None:
    """Routing records an order's method beside the reservation: a shipped order is
    re-planned to its own destination (here nearer W-FAR than W-NEAR), a pickup promise
    is not moved behind the customer's back."""
    await stock(engine, S1=6, W_NEAR=10, W_FAR=10)
    far = DIRECTORY_LOCATIONS["W-FAR"]
    shipped = msgspec.json.encode(ShipTo(far.lat + 0.1, far.lon))
    collected = msgspec.json.encode(PickupAt("S1"))
    await commit(engine, clock, "r-ship", 3)
    await commit(engine, clock, "r-pickup", 3)
    await engine.redis.command("SET", keys.route("r-ship"), shipped)
    await engine.redis.command("SET", keys.route("r-pickup"), collected)
    await engine.stock.set_on_hand(SKU, "S1", 0)  # 6 short: both reservations give up all
    outcomes = await resourcer(engine).run_once()
    assert [o.moved for o in outcomes] == [[("r-ship", "W-FAR", 3)]]
    assert [(o.flagged) for o in outcomes] == [[("r-pickup", 3)]]
    items = await attention(engine.redis)
    assert [(i.reservation_id, i.units, i.why) for i in items] == [("r-pickup", 3, "pickup_order")]
    assert await open_lines(engine, "r-pickup") == {"S1": 3}
    await check_ledger_invariants(engine.redis)


def test_order_for_follows_the_recorded_method() -> None:
    origin = DIRECTORY_LOCATIONS["S1"]
    claim = Claim("r", Channel.online, 2)
    assert order_for(SKU, claim, origin) == Order(
        [OrderLine(SKU, 2)], ShipTo(origin.lat, origin.lon), Channel.online
    )
    shipped = Claim("r", Channel.online, 2, ShipTo(1.0, 2.0))
    assert order_for(SKU, shipped, origin) == Order([OrderLine(SKU, 2)], ShipTo(1.0, 2.0))
    assert order_for(SKU, Claim("r", Channel.online, 2, PickupAt("S1")), origin) is None
    near = NearMe(60.0, 10.0, 5.0)
    assert order_for(SKU, Claim("r", Channel.online, 2, near), origin) is None
