"""The glue on the real local Redis: live availability in, one all-or-nothing hold out."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import date

import pytest

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.model import Channel
from engine.local import Engine
from reservations.model import Line, ReserveOutcome
from routing.limits import ALLOCATE_ATTEMPTS_MAX
from routing.live import AllocateResult, allocate, candidates_for, nearby, plan_order
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import (
    Capability,
    LocationKind,
    NearMe,
    Order,
    OrderLine,
    PlanStatus,
    Policy,
    ShipTo,
)
from support.invariants_ledger import check_ledger_invariants

HOME = (60.0, 10.0)
KM_PER_DEG_LAT = 111.195
STORE = frozenset({Capability.ship_from_store, Capability.pickup})
FLAT = Policy(depth_threshold_units=0, capacity_cost=0.0)


def store(name: str, km: float, capacity: int = 100) -> RoutingLocation:
    return RoutingLocation(
        name, LocationKind.store, STORE, HOME[0] + km / KM_PER_DEG_LAT, HOME[1], capacity
    )


def ship(*lines: tuple[str, int]) -> Order:
    return Order([OrderLine(s, q) for s, q in lines], ShipTo(*HOME))


async def stock(engine: Engine, rows: Sequence[tuple[str, str, int]]) -> None:
    await asyncio.gather(*(engine.stock.adjust(s, loc, q, "receipt") for s, loc, q in rows))


CATCH_UP_S = 5.0


async def caught_up(engine: Engine) -> None:
    """Waits (bounded) until the engine's replica has applied every event written so far."""
    tips = []
    for partition in range(LEDGER_PARTITIONS):
        last = await engine.redis.command("XREVRANGE", keys.stream(partition), "+", "-", "COUNT", 1)
        if last:
            tips.append((partition, last[0][0]))
    assert engine.replica is not None and engine.replica.ready
    assert await engine.replica.caught_up(tips, CATCH_UP_S)


@pytest.fixture
async def replica_engine(redis_url: str) -> AsyncIterator[Engine]:
    eng = Engine.connect(redis_url, replica=True)
    await eng.start_replica()
    yield eng
    await eng.close()


def no_redis_reads(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*_: object, **__: object) -> None:
        raise AssertionError("read Redis although the replica is ready")

    monkeypatch.setattr(engine.availability, "positions", refuse)
    monkeypatch.setattr(engine.availability, "_read", refuse)


async def test_plan_reads_live_online_atp(engine: Engine) -> None:
    directory = InMemoryDirectory([store("S-NEAR", 2), store("S-FAR", 40)])
    await stock(engine, [("A", "S-NEAR", 3), ("A", "S-FAR", 3)])
    await engine.stock.set_safety("A", "S-NEAR", 2)  # online may take only 1
    p = await plan_order(engine, ship(("A", 2)), directory, FLAT)
    assert [s.location for s in p.shipments] == ["S-FAR"]
    counter = Order([OrderLine("A", 2)], ShipTo(*HOME), Channel.store)
    p = await plan_order(engine, counter, directory, FLAT)
    assert [s.location for s in p.shipments] == ["S-NEAR"]  # the counter sells into safety


async def test_allocate_holds_every_line_of_the_plan(engine: Engine) -> None:
    directory = InMemoryDirectory([store("S-A", 2), store("S-B", 3)])
    await stock(engine, [("A", "S-A", 5), ("B", "S-B", 5)])
    out = await allocate(engine, "order-1", ship(("A", 2), ("B", 1)), directory, FLAT)
    assert out.result is AllocateResult.allocated and out.ok and out.attempts == 1
    assert out.reservation is not None
    held = {(ln.sku, ln.location): ln.open for ln in out.reservation.lines}
    assert held == {("A", "S-A"): 2, ("B", "S-B"): 1}
    assert (await engine.availability.position("A", "S-A")).reserved == 2


async def test_allocate_refuses_a_partial_plan_and_holds_nothing(engine: Engine) -> None:
    directory = InMemoryDirectory([store("S-A", 2)])
    await stock(engine, [("A", "S-A", 5)])
    out = await allocate(engine, "order-1", ship(("A", 2), ("B", 1)), directory, FLAT)
    assert out.result is AllocateResult.not_coverable and out.reservation is None
    assert out.plan.status is PlanStatus.partial
    assert (await engine.availability.position("A", "S-A")).reserved == 0


async def test_allocate_replans_when_a_race_empties_the_chosen_store(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = InMemoryDirectory([store("S-NEAR", 2), store("S-FAR", 40)])
    await stock(engine, [("A", "S-NEAR", 1), ("A", "S-FAR", 1)])
    real = engine.reservations.reserve
    raced = []

    async def racing(
        rid: str, channel: Channel, lines: Sequence[Line], ttl_s: int
    ) -> ReserveOutcome:
        if not raced:  # another order takes the unit between our plan and our hold
            raced.append(await real("rival", Channel.online, [Line("A", "S-NEAR", 1)], 60))
        return await real(rid, channel, lines, ttl_s)

    monkeypatch.setattr(engine.reservations, "reserve", racing)
    out = await allocate(engine, "order-1", ship(("A", 1)), directory, FLAT)
    assert out.result is AllocateResult.allocated and out.attempts == 2
    assert [s.location for s in out.plan.shipments] == ["S-FAR"]


async def test_allocate_gives_up_after_the_attempts_bound(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = InMemoryDirectory(
        [store(f"S-{k}", k + 1) for k in range(ALLOCATE_ATTEMPTS_MAX + 1)]
    )
    await stock(engine, [("A", f"S-{k}", 1) for k in range(ALLOCATE_ATTEMPTS_MAX + 1)])
    real = engine.reservations.reserve

    async def always_raced(
        rid: str, channel: Channel, lines: Sequence[Line], ttl_s: int
    ) -> ReserveOutcome:
        await real(f"rival-{lines[0].location}", Channel.online, list(lines), 60)
        return await real(rid, channel, lines, ttl_s)

    monkeypatch.setattr(engine.reservations, "reserve", always_raced)
    out = await allocate(engine, "order-1", ship(("A", 1)), directory, FLAT)
    assert out.result is AllocateResult.raced_out and out.reservation is None
    assert out.attempts == ALLOCATE_ATTEMPTS_MAX
    assert await engine.reservations.get("order-1") is None


ORDERS = 60
CONNECTIONS = 4


async def test_racing_orders_never_oversell_and_are_all_or_nothing(redis_url: str) -> None:
    """Many two-line orders race for a few scarce units spread over stores."""
    engines = [Engine.connect(redis_url) for _ in range(CONNECTIONS)]
    names = [f"S-{k}" for k in range(6)]
    directory = InMemoryDirectory([store(n, 2 + 7 * k) for k, n in enumerate(names)])
    rows = [(sku, n, 2) for k, n in enumerate(names) for sku in ("X", "Y") if (k + len(sku)) % 2]
    rows += [("Z", n, 1) for n in names]
    await stock(engines[0], rows)
    orders = [
        ship(("X", 1 + i % 2), ("Z", 1)) if i % 3 else ship(("Y", 1), ("Z", 2))
        for i in range(ORDERS)
    ]
    outcomes = await asyncio.gather(
        *(
            allocate(engines[i % CONNECTIONS], f"order-{i}", o, directory, Policy())
            for i, o in enumerate(orders)
        )
    )
    won = [(o, out) for o, out in zip(orders, outcomes, strict=True) if out.ok]
    assert won and len(won) < ORDERS  # scarce: some win, some are refused
    for out in outcomes:
        assert out.result in (
            AllocateResult.allocated,
            AllocateResult.not_coverable,
            AllocateResult.raced_out,
        )
    for order, out in won:  # every line of a won order fully held
        assert out.reservation is not None
        for line in order.lines:
            held = sum(ln.open for ln in out.reservation.lines if ln.sku == line.sku)
            assert held == line.qty
    for sku, loc, on_hand in rows:
        position = await engines[0].availability.position(sku, loc)
        expected = sum(
            ln.open
            for _, out in won
            for ln in out.reservation.lines  # type: ignore[union-attr]
            if (ln.sku, ln.location) == (sku, loc)
        )
        assert position.reserved == expected <= on_hand  # zero oversell, no stray holds
    await check_ledger_invariants(engines[0].redis)
    for engine in engines:
        await engine.close()


async def test_plan_reads_the_replica_when_ready(
    replica_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = replica_engine
    directory = InMemoryDirectory([store("S-NEAR", 2), store("S-FAR", 40)])
    await stock(engine, [("A", "S-NEAR", 3), ("A", "S-FAR", 3), ("B", "S-FAR", 1)])
    await engine.stock.set_safety("A", "S-NEAR", 2)  # online may take only 1
    await caught_up(engine)
    no_redis_reads(engine, monkeypatch)
    p = await plan_order(engine, ship(("A", 2)), directory, FLAT)
    assert [s.location for s in p.shipments] == ["S-FAR"]
    counter = Order([OrderLine("A", 2)], ShipTo(*HOME), Channel.store)
    p = await plan_order(engine, counter, directory, FLAT)
    assert [s.location for s in p.shipments] == ["S-NEAR"]  # the counter sells into safety
    cands = await candidates_for(engine, ship(("A", 1), ("B", 1), ("C", 1)), directory)
    assert {c.location: c.atp for c in cands} == {"S-NEAR": {"A": 1}, "S-FAR": {"A": 3, "B": 1}}
    found = await nearby(engine, directory, "A", *HOME, radius_km=50, qty=1)
    assert [s.location for s in found] == ["S-NEAR", "S-FAR"]


async def test_allocate_on_a_stale_replica_replans_from_the_refusal(
    replica_engine: Engine,
) -> None:
    engine = replica_engine
    directory = InMemoryDirectory([store("S-NEAR", 2), store("S-FAR", 40)])
    await stock(engine, [("A", "S-NEAR", 1), ("A", "S-FAR", 1)])
    await caught_up(engine)
    assert engine.replica is not None
    await engine.replica.stop()  # stale from here on: the rival's hold goes unseen
    rival = await engine.reservations.reserve("rival", Channel.online, [Line("A", "S-NEAR", 1)])
    assert rival.ok
    out = await allocate(engine, "order-1", ship(("A", 1)), directory, FLAT)
    # The replica still shows S-NEAR; Redis refuses, and the refusal steers the re-plan.
    assert out.result is AllocateResult.allocated and out.attempts == 2
    assert [s.location for s in out.plan.shipments] == ["S-FAR"]
    await check_ledger_invariants(engine.redis)


@pytest.mark.parametrize("with_replica", [False, True])
async def test_a_partial_plan_dates_its_back_order_from_incoming_supply(
    redis_url: str, with_replica: bool
) -> None:
    engine = Engine.connect(redis_url, replica=with_replica)
    try:
        if with_replica:
            await engine.start_replica()
        no_ship = RoutingLocation(
            "S-PICK", LocationKind.store, frozenset({Capability.pickup}), *HOME, 9
        )
        directory = InMemoryDirectory([store("S-A", 2), store("S-B", 30), no_ship])
        await stock(engine, [("A", "S-A", 1)])
        day = date(2026, 12, 1)
        await engine.stock.add_incoming("A", "S-A", "po-1", 1, day)
        await engine.stock.add_incoming("A", "S-B", "po-2", 2, date(2026, 12, 5))
        await engine.stock.add_incoming("A", "S-PICK", "po-3", 9, date(2026, 11, 30))
        if with_replica:
            await caught_up(engine)
        p = await plan_order(engine, ship(("A", 3)), directory, FLAT)
        assert p.status is PlanStatus.partial
        [short] = p.uncovered
        # 2 short: S-A's 1 on the 1st is not enough, S-B's 2 on the 5th is; the store that
        # cannot ship does not count.
        assert (short.sku, short.short, short.back_order_on) == ("A", 2, date(2026, 12, 5))
        complete = await plan_order(engine, ship(("A", 1)), directory, FLAT)
        assert complete.status is PlanStatus.complete and not complete.uncovered
    finally:
        await engine.close()


async def test_a_retried_allocate_answers_already_exists_though_it_replans(
    engine: Engine,
) -> None:
    directory = InMemoryDirectory([store("S-NEAR", 2), store("S-FAR", 40)])
    await stock(engine, [("A", "S-NEAR", 1), ("A", "S-FAR", 1)])
    first = await allocate(engine, "order-1", ship(("A", 1)), directory, FLAT)
    assert first.result is AllocateResult.allocated
    # The retry sees its own hold at S-NEAR and plans S-FAR: other lines, same order.
    again = await allocate(engine, "order-1", ship(("A", 1)), directory, FLAT)
    assert again.result is AllocateResult.already_exists and again.ok
    assert again.reservation is not None
    assert [(ln.location, ln.open) for ln in again.reservation.lines] == [("S-NEAR", 1)]
    assert (await engine.availability.position("A", "S-FAR")).reserved == 0
    # Only stock for one order: the retry of a sold-out order still finds its hold.
    await engine.stock.set_on_hand("A", "S-FAR", 0)
    third = await allocate(engine, "order-1", ship(("A", 1)), directory, FLAT)
    assert third.result is AllocateResult.already_exists
    other = await allocate(engine, "order-1", ship(("A", 2)), directory, FLAT)
    assert other.result is AllocateResult.not_coverable  # another order under the id


@pytest.mark.slow
async def test_on_a_cluster_a_refused_hold_leaves_the_id_free_for_the_replan(
    cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The legs path (no cross-slot script): the first attempt holds A's leg, B's leg is
    short, so A's leg is rolled back and deleted; the re-plan, with other lines and so
    another digest, reuses the id without meeting `conflict` or `aborted`."""
    engine = Engine.connect(cluster_url)
    try:
        await engine.redis.command("PING")  # learn the slot map first
        assert not engine.redis.cross_slot_scripts
        a = "A-0"
        b = next(
            f"B-{k}"
            for k in range(1000)
            if keys.partition_of_sku(f"B-{k}") != keys.partition_of_sku(a)
        )
        directory = InMemoryDirectory([store("S-NEAR", 2), store("S-FAR", 400)])
        for sku in (a, b):
            for name in ("S-NEAR", "S-FAR"):
                await engine.stock.adjust(sku, name, 1, "receipt")
        real = engine.reservations.reserve
        tries: list[list[Line]] = []

        async def racing(
            rid: str, channel: Channel, lines: Sequence[Line], ttl_s: int
        ) -> ReserveOutcome:
            if not tries:  # a rival takes B at the near store between our plan and hold
                assert (await real("rival", Channel.online, [Line(b, "S-NEAR", 1)], 60)).ok
            tries.append(list(lines))
            return await real(rid, channel, lines, ttl_s)

        monkeypatch.setattr(engine.reservations, "reserve", racing)
        out = await allocate(engine, "order-1", ship((a, 1), (b, 1)), directory, FLAT)
        assert out.result is AllocateResult.allocated and out.attempts == 2
        assert {(ln.sku, ln.location) for ln in tries[0]} == {(a, "S-NEAR"), (b, "S-NEAR")}
        assert tries[1] != tries[0]
        assert out.reservation is not None
        held = {(ln.sku, ln.location): ln.open for ln in out.reservation.lines}
        assert sum(held.values()) == 2 and (b, "S-NEAR") not in held
        for sku in (a, b):
            for name in ("S-NEAR", "S-FAR"):
                reserved = (await engine.availability.position(sku, name)).reserved
                rival = 1 if (sku, name) == (b, "S-NEAR") else 0
                assert reserved == held.get((sku, name), 0) + rival  # nothing stray
    finally:
        await engine.close()


SINGLE_UNIT_ORDERS = 60
SCARCE = {"S-0": 3, "S-1": 1, "S-2": 4, "S-3": 2, "S-4": 2}  # 12 units over 5 stores


@pytest.mark.parametrize("with_replica", [False, True])
async def test_racing_one_unit_orders_take_exactly_the_stock(
    redis_url: str, with_replica: bool
) -> None:
    """60 one-unit orders race for 12 units over 5 stores: exactly 12 are allocated (no
    unit left behind, none oversold), every other order is refused holding nothing."""
    assert len(SCARCE) < ALLOCATE_ATTEMPTS_MAX  # each order may lose once per store
    engines = [Engine.connect(redis_url, replica=with_replica) for _ in range(CONNECTIONS)]
    try:
        directory = InMemoryDirectory([store(n, 3 + 5 * k) for k, n in enumerate(SCARCE)])
        await stock(engines[0], [("X", n, q) for n, q in SCARCE.items()])
        for engine in engines if with_replica else []:
            await engine.start_replica()
            await caught_up(engine)
        outcomes = await asyncio.gather(
            *(
                allocate(engines[i % CONNECTIONS], f"o-{i}", ship(("X", 1)), directory, FLAT)
                for i in range(SINGLE_UNIT_ORDERS)
            )
        )
        won = [out for out in outcomes if out.ok]
        assert len(won) == sum(SCARCE.values())
        for i, out in enumerate(outcomes):
            if out.ok:
                assert out.result is AllocateResult.allocated and out.reservation is not None
                assert [(ln.sku, ln.open) for ln in out.reservation.lines] == [("X", 1)]
            else:
                assert out.result in (AllocateResult.not_coverable, AllocateResult.raced_out)
                assert await engines[0].reservations.get(f"o-{i}") is None
        for name, on_hand in SCARCE.items():
            position = await engines[0].availability.position("X", name)
            assert position.reserved == on_hand  # every unit held, none twice
        await check_ledger_invariants(engines[0].redis)
    finally:
        for engine in engines:
            await engine.close()


async def test_nearby_lists_pickup_stores_that_can_fill_now(engine: Engine) -> None:
    no_pickup = RoutingLocation(
        "S-NOPICK", LocationKind.store, frozenset({Capability.ship_from_store}), *HOME, 10
    )
    directory = InMemoryDirectory([store("S-1", 1), store("S-3", 3), store("S-FAR", 80), no_pickup])
    await stock(engine, [("A", n, 2) for n in ("S-1", "S-3", "S-FAR", "S-NOPICK")])
    found = await nearby(engine, directory, "A", *HOME, radius_km=50, qty=2)
    assert [s.location for s in found] == ["S-1", "S-3"]
    assert await nearby(engine, directory, "A", *HOME, radius_km=50, qty=3) == []
    p = await plan_order(engine, Order([OrderLine("A", 1)], NearMe(*HOME, 50)), directory, FLAT)
    assert [s.location for s in p.shipments] == ["S-1"]


async def test_a_large_directory_is_cut_to_the_nearest_eligible(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("routing.live.CANDIDATES_MAX", 2)
    directory = InMemoryDirectory([store(f"S-{k}", 10 - k) for k in range(5)])
    await stock(engine, [("A", f"S-{k}", 1) for k in range(5)])
    cands = await candidates_for(engine, ship(("A", 1)), directory)
    assert sorted(c.location for c in cands) == ["S-3", "S-4"]
    assert all(c.atp == {"A": 1} for c in cands)


def test_directory_from_json() -> None:
    body = (
        b'[{"location": "S-1", "kind": "store", "capabilities": ["pickup"],'
        b' "lat": 60.0, "lon": 10.0, "capacity_units": 20}]'
    )
    [loc] = asyncio.run(InMemoryDirectory.from_json(body).locations())
    assert loc.capabilities == frozenset({Capability.pickup}) and loc.priority == 0
    with pytest.raises(ValueError, match="repeat"):
        InMemoryDirectory([loc, loc])
