"""The pure router on hand-made cases whose best answer is known."""

from datetime import date

import pytest

from atp.model import InvalidInput
from routing.geo import haversine_km
from routing.model import (
    Arrival,
    Candidate,
    Capability,
    LocationKind,
    NearMe,
    Order,
    OrderLine,
    PickupAt,
    PlanStatus,
    Policy,
    ShipTo,
)
from routing.nearby import stores_nearby
from routing.plan import plan

HOME = (60.0, 10.0)
KM_PER_DEG_LAT = 111.195
SHIP = frozenset({Capability.ship})
STORE = frozenset({Capability.ship_from_store, Capability.pickup})
STORE_NO_PICKUP = frozenset({Capability.ship_from_store})


def store(name: str, km: float, atp: dict[str, int], **kw: object) -> Candidate:
    caps = kw.pop("caps", STORE)
    return Candidate(
        name,
        LocationKind.store,
        caps,  # type: ignore[arg-type]
        HOME[0] + km / KM_PER_DEG_LAT,
        HOME[1],
        atp,
        capacity_units=kw.pop("capacity", 100),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def warehouse(name: str, km: float, atp: dict[str, int], **kw: object) -> Candidate:
    return Candidate(
        name,
        LocationKind.warehouse,
        SHIP,
        HOME[0] - km / KM_PER_DEG_LAT,
        HOME[1],
        atp,
        capacity_units=kw.pop("capacity", 1000),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def order(*lines: tuple[str, int], method: object = None) -> Order:
    return Order([OrderLine(s, q) for s, q in lines], method or ShipTo(*HOME))  # type: ignore[arg-type]


def chosen(p: object) -> list[str]:
    return sorted(s.location for s in p.shipments)  # type: ignore[attr-defined]


# Depth penalties off unless a test is about them: keeps the arithmetic of others plain.
FLAT = Policy(depth_threshold_units=0, capacity_cost=0.0)


def test_haversine_oslo_bergen() -> None:
    assert haversine_km(59.9139, 10.7522, 60.3913, 5.3221) == pytest.approx(305.0, abs=3)


def test_closest_single_store_beats_a_split() -> None:
    cands = [
        store("S-FULL", 10, {"A": 5, "B": 5}),
        store("S-A", 2, {"A": 5}),
        store("S-B", 2, {"B": 5}),
        warehouse("WH", 300, {"A": 100, "B": 100}),
    ]
    p = plan(order(("A", 1), ("B", 1)), cands, FLAT)
    assert p.status is PlanStatus.complete and p.proven_optimal
    assert chosen(p) == ["S-FULL"]
    assert p.cost_total == pytest.approx(6.0 + 0.02 * 10, abs=1e-6)
    # Every rejected alternative is explained, the split among them or a single that lacks.
    assert p.alternatives and all(a.reason for a in p.alternatives)


def test_split_beats_a_far_warehouse_when_cheaper() -> None:
    cands = [
        store("S-A", 5, {"A": 5}),
        store("S-B", 5, {"B": 5}),
        warehouse("WH", 1000, {"A": 100, "B": 100}),
    ]
    p = plan(order(("A", 1), ("B", 1)), cands, FLAT)
    assert chosen(p) == ["S-A", "S-B"]  # 2 x (6 + 0.1) = 12.2 < 6 + 20
    assert p.cost_total == pytest.approx(12.2, abs=1e-6)
    dearer = [a for a in p.alternatives if a.locations == ["WH"]]
    assert dearer and dearer[0].cost_total == pytest.approx(26.0, abs=1e-3)
    assert "distance" in dearer[0].reason


def test_near_warehouse_beats_the_split() -> None:
    cands = [
        store("S-A", 5, {"A": 5}),
        store("S-B", 5, {"B": 5}),
        warehouse("WH", 100, {"A": 100, "B": 100}),
    ]
    assert chosen(plan(order(("A", 1), ("B", 1)), cands, FLAT)) == ["WH"]


def test_pick_capacity_is_a_hard_limit() -> None:
    cands = [store("S-NEAR", 1, {"A": 9}, capacity=1), store("S-FAR", 50, {"A": 9})]
    p = plan(order(("A", 2)), cands, Policy(depth_threshold_units=0, shipments_max=1))
    assert chosen(p) == ["S-FAR"]
    assert p.shipments[0].lines[0].qty == 2


def test_capacity_term_prefers_the_less_busy_store() -> None:
    cands = [store("S-BUSY", 10, {"A": 9}, capacity=2), store("S-CALM", 12, {"A": 9})]
    p = plan(order(("A", 1)), cands, Policy(depth_threshold_units=0, capacity_cost=2.0))
    # busy: 6 + 0.2 + 2/2 = 7.2; calm: 6 + 0.24 + 2/100 = 6.26
    assert chosen(p) == ["S-CALM"]
    assert p.shipments[0].cost.capacity == pytest.approx(0.02)


def test_depth_penalty_keeps_a_store_sellable() -> None:
    cands = [store("S-LAST", 5, {"A": 2}), store("S-DEEP", 40, {"A": 20})]
    policy = Policy(depth_threshold_units=2, depth_penalty_per_unit=3.0, capacity_cost=0.0)
    p = plan(order(("A", 1)), cands, policy)
    assert chosen(p) == ["S-DEEP"]  # 6 + 0.8 < 6 + 0.1 + 3
    no_penalty = plan(order(("A", 1)), cands, Policy(depth_penalty_per_unit=0.0))
    assert chosen(no_penalty) == ["S-LAST"]


def test_depth_penalty_counts_only_units_below_the_threshold() -> None:
    cands = [store("S", 5, {"A": 4})]
    policy = Policy(depth_threshold_units=2, depth_penalty_per_unit=3.0, capacity_cost=0.0)
    p = plan(order(("A", 3)), cands, policy)
    assert p.shipments[0].cost.depth == pytest.approx(3.0)  # 2 spare, the third is below
    assert plan(order(("A", 3)), [store("W", 5, {"A": 4}, depth_threshold=0)], policy).shipments[
        0
    ].cost.depth == pytest.approx(0.0)


def test_warehouses_have_no_depth_penalty() -> None:
    p = plan(order(("A", 1)), [warehouse("WH", 5, {"A": 1})], Policy(depth_threshold_units=5))
    assert p.shipments[0].cost.depth == 0.0


def test_priority_breaks_a_near_tie() -> None:
    cands = [store("S-1", 10, {"A": 5}, priority=2), store("S-2", 11, {"A": 5})]
    assert chosen(plan(order(("A", 1)), cands, FLAT)) == ["S-2"]


def test_a_line_may_split_across_locations() -> None:
    cands = [store("S-1", 5, {"A": 2}), store("S-2", 6, {"A": 1})]
    p = plan(order(("A", 3)), cands, FLAT)
    assert p.status is PlanStatus.complete
    assert {s.location: s.lines[0].qty for s in p.shipments} == {"S-1": 2, "S-2": 1}


def test_exact_tie_goes_to_the_smaller_location_id_whatever_the_input_order() -> None:
    cands = [store("S-Z", 10, {"A": 5}), store("S-M", 10, {"A": 5})]
    assert chosen(plan(order(("A", 1)), cands, FLAT)) == ["S-M"]
    assert chosen(plan(order(("A", 1)), cands[::-1], FLAT)) == ["S-M"]


def test_pickup_never_routes_to_a_store_without_pickup() -> None:
    cands = [store("S-NOPICK", 1, {"A": 5}, caps=STORE_NO_PICKUP), store("S-PICK", 30, {"A": 5})]
    near = plan(order(("A", 1), method=NearMe(*HOME, radius_km=50)), cands, FLAT)
    assert chosen(near) == ["S-PICK"]
    assert near.excluded == {"no_pickup": 1}
    at = plan(order(("A", 1), method=PickupAt("S-NOPICK")), cands, FLAT)
    assert at.status is PlanStatus.unfulfillable and at.shipments == []
    assert at.uncovered[0].short == 1


def test_pickup_is_one_store_and_near_me_respects_the_radius() -> None:
    cands = [
        store("S-A", 2, {"A": 5}),
        store("S-B", 3, {"B": 5}),
        store("S-AB", 80, {"A": 1, "B": 1}),
    ]
    near = plan(order(("A", 1), ("B", 1), method=NearMe(*HOME, radius_km=50)), cands, FLAT)
    assert near.status is PlanStatus.partial and len(near.shipments) == 1
    assert near.excluded == {"out_of_radius": 1}
    wide = plan(order(("A", 1), ("B", 1), method=NearMe(*HOME, radius_km=100)), cands, FLAT)
    assert chosen(wide) == ["S-AB"]


def test_partial_plan_names_the_short_lines_and_a_back_order_date() -> None:
    arriving = [Arrival("B", 10, date(2026, 12, 3)), Arrival("B", 5, date(2026, 12, 1))]
    cands = [warehouse("WH", 100, {"A": 10, "B": 1}, incoming=arriving)]
    p = plan(order(("A", 2), ("B", 4)), cands, FLAT)
    assert p.status is PlanStatus.partial
    assert p.shipments[0].lines[1].qty == 1  # the best partial ships what there is
    [short] = p.uncovered
    assert (short.sku, short.requested, short.short) == ("B", 4, 3)
    assert short.back_order_on == date(2026, 12, 1)


def test_nothing_anywhere_is_unfulfillable() -> None:
    p = plan(order(("A", 1)), [store("S", 1, {}), store("OFF", 1, {"A": 1}, active=False)])
    assert p.status is PlanStatus.unfulfillable
    assert p.excluded == {"inactive": 1, "no_stock": 1}
    assert p.uncovered[0].back_order_on is None


def test_shipment_cap_turns_a_three_way_split_into_a_partial() -> None:
    cands = [store(f"S-{s}", 5, {s: 5}) for s in "ABC"]
    lines = (("A", 1), ("B", 1), ("C", 1))
    assert plan(order(*lines), cands, FLAT).status is PlanStatus.complete
    capped = plan(order(*lines), cands, Policy(shipments_max=2))
    assert capped.status is PlanStatus.partial and len(capped.shipments) == 2


def test_cost_terms_add_up() -> None:
    cands = [store("S-1", 5, {"A": 2, "B": 1}, priority=1), warehouse("WH", 200, {"B": 9})]
    p = plan(order(("A", 2), ("B", 3)), cands, Policy())
    assert sum(s.cost_total for s in p.shipments) == pytest.approx(p.cost_total)
    for s in p.shipments:
        c = s.cost
        assert s.cost_total == pytest.approx(
            c.shipment + c.distance + c.depth + c.capacity + c.priority
        )


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput, match="repeat a sku"):
        plan(order(("A", 1), ("A", 2)), [])
    with pytest.raises(InvalidInput, match=r"lines\[0\]\.qty"):
        plan(order(("A", 0)), [])
    with pytest.raises(InvalidInput, match="policy"):
        plan(order(("A", 1)), [], Policy(shipment_cost=-1.0))
    with pytest.raises(InvalidInput, match="policy"):
        plan(order(("A", 1)), [], Policy(shipments_max=9))
    with pytest.raises(InvalidInput, match="repeat a location"):
        plan(order(("A", 1)), [store("S", 1, {}), store("S", 2, {})])


def test_stores_nearby_nearest_first() -> None:
    cands = [
        store("S-3", 3, {"A": 2}),
        store("S-1", 1, {"A": 5}),
        store("S-NOPICK", 0.5, {"A": 5}, caps=STORE_NO_PICKUP),
        store("S-LOW", 2, {"A": 1}),
        store("S-FAR", 60, {"A": 5}),
    ]
    found = stores_nearby("A", 2, *HOME, 50, cands)
    assert [s.location for s in found] == ["S-1", "S-3"]
    assert found[0].distance_km == pytest.approx(1.0, abs=0.01)


def test_a_store_short_of_capacity_is_topped_up_by_one_holding_other_lines() -> None:
    # S-BOTH holds every line but can pick only 2 of the 3 units; S-B holds only B. The
    # search must not insist that the next location hold the lines S-BOTH already covers.
    cands = [
        store("S-BOTH", 5, {"A": 1, "B": 2}, capacity=2),
        store("S-B", 8, {"B": 1}, capacity=1),
        warehouse("WH", 2000, {"A": 9, "B": 9}),
    ]
    p = plan(order(("A", 1), ("B", 2)), cands, Policy(shipments_max=2, depth_threshold_units=0))
    assert chosen(p) == ["S-B", "S-BOTH"] and p.proven_optimal


# Two cases hypothesis found against brute force (3,000 examples): a location that holds
# only lines already "covered" must still be tried before the order is covered, when it
# frees a member's pick capacity or spares a store's last units.
ONE_PLACE = (59.0, 9.0)


def _at(name: str, kind: LocationKind, atp: dict[str, int], capacity: int, rank: int) -> Candidate:
    caps = SHIP if kind is LocationKind.warehouse else STORE_NO_PICKUP
    return Candidate(name, kind, caps, *ONE_PLACE, atp, capacity, priority=rank)


def test_a_location_may_join_to_free_a_busy_members_picks() -> None:
    cands = [
        _at("L0", LocationKind.warehouse, {"A": 1}, 1, 1),
        _at("L1", LocationKind.warehouse, {"D": 1}, 1, 1),
        _at("L3", LocationKind.warehouse, {"A": 1, "C": 1}, 1, 0),  # holds two, picks one
    ]
    p = Policy(0.0, 0.0, 0, 0.0, 0.0, 0.5, 3)
    result = plan(Order([OrderLine(s, 1) for s in "ACD"], ShipTo(*ONE_PLACE)), cands, p)
    assert result.status is PlanStatus.complete and result.proven_optimal
    assert [s.location for s in result.shipments] == ["L0", "L1", "L3"]


def test_a_location_may_join_to_spare_a_stores_last_units_before_the_order_is_covered() -> None:
    cands = [
        _at("L0", LocationKind.warehouse, {"A": 1}, 1, 1),
        _at("L1", LocationKind.warehouse, {"D": 1}, 1, 1),
        _at("L3", LocationKind.store, {"A": 1, "C": 1}, 2, 0),  # both below its threshold
    ]
    p = Policy(0.0, 0.0, 1, 3.0, 0.0, 0.5, 3)
    result = plan(Order([OrderLine(s, 1) for s in "ACD"], ShipTo(*ONE_PLACE)), cands, p)
    # L0 takes A (0.5) rather than L3 (3.0 below its threshold): 0.5 + 3.0 + 0.5.
    assert result.proven_optimal and result.cost_total == pytest.approx(4.0)
    assert [s.location for s in result.shipments] == ["L0", "L1", "L3"]
