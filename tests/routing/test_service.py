"""The glue on the real local Redis: live availability in, one all-or-nothing hold out."""

import asyncio
from collections.abc import Sequence

import pytest
from invariants_ledger import check_ledger_invariants

from atp.engine import Engine
from atp.model import Channel
from reservations.model import Line, ReserveOutcome
from routing.directory import InMemoryDirectory, Location
from routing.limits import ALLOCATE_ATTEMPTS_MAX
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
from routing.service import AllocateResult, allocate, candidates_for, nearby, plan_order

HOME = (60.0, 10.0)
KM_PER_DEG_LAT = 111.195
STORE = frozenset({Capability.ship_from_store, Capability.pickup})
FLAT = Policy(depth_threshold_units=0, capacity_cost=0.0)


def store(name: str, km: float, capacity: int = 100) -> Location:
    return Location(
        name, LocationKind.store, STORE, HOME[0] + km / KM_PER_DEG_LAT, HOME[1], capacity
    )


def ship(*lines: tuple[str, int]) -> Order:
    return Order([OrderLine(s, q) for s, q in lines], ShipTo(*HOME))


async def stock(engine: Engine, rows: Sequence[tuple[str, str, int]]) -> None:
    await asyncio.gather(*(engine.stock.adjust(s, loc, q, "receipt") for s, loc, q in rows))


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


async def test_nearby_lists_pickup_stores_that_can_fill_now(engine: Engine) -> None:
    no_pickup = Location(
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
    monkeypatch.setattr("routing.service.CANDIDATES_MAX", 2)
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
