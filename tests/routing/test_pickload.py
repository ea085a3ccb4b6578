"""Pick load on the real local Redis: units allocated per location and day, counted once
per reservation id, and the directory that turns daily capacity into capacity left."""

import asyncio
from datetime import date, timedelta

import pytest

from atp.keys import pick_guard as guard_key
from atp.keys import pick_load as load_key
from engine.local import Engine
from reservations.model import Line
from routing.limits import PICKLOAD_RETENTION_S
from routing.live import AllocateResult, allocate, plan_order
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import Capability, LocationKind, Order, OrderLine, Policy, ShipTo
from routing.pickload import CapacityDirectory, PickLoad

DAY = date(2026, 11, 22)
HOME = (60.0, 10.0)
STORE = frozenset({Capability.ship_from_store})
FLAT = Policy(depth_threshold_units=0, capacity_cost=0.0)


class Today:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def store(name: str, km: float, daily: int) -> RoutingLocation:
    return RoutingLocation(name, LocationKind.store, STORE, HOME[0] + km / 111.195, HOME[1], daily)


async def test_a_reservation_counts_once_per_id(engine: Engine) -> None:
    load = PickLoad(engine.redis, Today(DAY))
    lines = [Line("A", "S-1", 2), Line("B", "S-1", 1), Line("A", "S-2", 4)]
    assert await load.add("r-1", lines)
    assert not await load.add("r-1", lines)  # a retry: counted already
    assert await load.add("r-2", [Line("C", "S-2", 1)])
    assert await load.used() == {"S-1": 3, "S-2": 5}
    for key in (load_key(DAY), guard_key("r-1")):
        assert 0 < await engine.redis.command("TTL", key) <= PICKLOAD_RETENTION_S


async def test_concurrent_retries_of_one_id_count_once(engine: Engine) -> None:
    load = PickLoad(engine.redis, Today(DAY))
    counted = await asyncio.gather(*(load.add("r-1", [Line("A", "S-1", 1)]) for _ in range(20)))
    assert sum(counted) == 1
    assert await load.used() == {"S-1": 1}


async def test_each_day_has_its_own_load(engine: Engine) -> None:
    today = Today(DAY)
    load = PickLoad(engine.redis, today)
    await load.add("r-1", [Line("A", "S-1", 2)])
    today.day = DAY + timedelta(days=1)
    await load.add("r-2", [Line("A", "S-1", 5)])
    assert await load.used() == {"S-1": 5}
    assert await load.used(DAY) == {"S-1": 2}
    # An id is counted once whatever the day: a retry after midnight adds nothing.
    assert not await load.add("r-1", [Line("A", "S-1", 2)])


async def test_bad_input_is_refused(engine: Engine) -> None:
    load = PickLoad(engine.redis, Today(DAY))
    with pytest.raises(ValueError, match="lines"):
        await load.add("r-1", [])
    with pytest.raises(ValueError):
        await load.add("", [Line("A", "S-1", 1)])


async def test_directory_gives_capacity_left_today(engine: Engine) -> None:
    load = PickLoad(engine.redis, Today(DAY))
    inner = InMemoryDirectory([store("S-1", 1, 10), store("S-2", 2, 3), store("S-3", 3, 7)])
    directory = CapacityDirectory(inner, load, max_age_ms=0)
    await load.add("r-1", [Line("A", "S-1", 4), Line("A", "S-2", 5)])
    left = {loc.location: loc.capacity_units for loc in await directory.locations()}
    assert left == {"S-1": 6, "S-2": 0, "S-3": 7}  # floored at 0
    assert [loc.capacity_units for loc in await inner.locations()] == [10, 3, 7]  # untouched


async def test_allocate_counts_its_units_and_plans_around_full_stores(engine: Engine) -> None:
    load = PickLoad(engine.redis, Today(DAY))
    inner = InMemoryDirectory([store("S-NEAR", 2, 3), store("S-FAR", 40, 50)])
    directory = CapacityDirectory(inner, load, max_age_ms=0)
    await asyncio.gather(
        *(engine.stock.adjust("A", name, 10, "receipt") for name in ("S-NEAR", "S-FAR"))
    )
    order = Order([OrderLine("A", 2)], ShipTo(*HOME))
    first = await allocate(engine, "o-1", order, directory, FLAT, pickload=load)
    assert first.result is AllocateResult.allocated
    assert [s.location for s in first.plan.shipments] == ["S-NEAR"]
    assert await load.used() == {"S-NEAR": 2}
    retry = await allocate(engine, "o-1", order, directory, FLAT, pickload=load)
    assert retry.result is AllocateResult.already_exists
    assert await load.used() == {"S-NEAR": 2}  # the retry counted nothing more
    # One unit of pick capacity is left near: a two-unit order goes far.
    p = await plan_order(engine, order, directory, FLAT)
    assert [s.location for s in p.shipments] == ["S-FAR"]
    second = await allocate(engine, "o-2", order, directory, FLAT, pickload=load)
    assert [s.location for s in second.plan.shipments] == ["S-FAR"]
    assert await load.used() == {"S-NEAR": 2, "S-FAR": 2}
