"""The derivation of a position at an instant (durability/as_of_rules.py), against the
reference model: random stock, supply and reservation steps at known times, each followed
by what the model held then; the fold of the model's events up to each instant must land
on that position, those supplies and those reservations' open units."""

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from atp import keys
from atp.model import Channel, Event
from durability.as_of_rules import EXPLAIN_ON_HAND_EVENTS_MAX, derive
from oracles.ledger import ReferenceLedger, replay
from oracles.reservations import ReferenceReservations
from reservations.model import Line

SKU, LOC = "A", "S1"
RIDS = ("r1", "r2", "r3")
SUPPLIES = ("po-1", "po-2")
DAY = date(2030, 1, 10)

step = st.one_of(
    st.tuples(st.just("adjust"), st.integers(-3, 8)),
    st.tuples(st.just("count"), st.integers(0, 12)),
    st.tuples(st.just("safety"), st.integers(0, 4)),
    st.tuples(st.just("add"), st.sampled_from(SUPPLIES), st.integers(1, 9)),
    st.tuples(st.just("receive"), st.sampled_from(SUPPLIES), st.integers(1, 9)),
    st.tuples(st.just("cancel"), st.sampled_from(SUPPLIES)),
    st.tuples(st.just("redate"), st.sampled_from(SUPPLIES), st.integers(1, 30)),
    st.tuples(st.just("reserve"), st.sampled_from(RIDS), st.integers(1, 4)),
    st.tuples(st.just("commit"), st.sampled_from(RIDS)),
    st.tuples(st.just("expire"), st.sampled_from(RIDS)),
    st.tuples(st.just("released"), st.sampled_from(RIDS), st.integers(0, 3)),
    st.tuples(st.just("fulfilled"), st.sampled_from(RIDS), st.integers(0, 3)),
)
HOLD_TTL_S = 600


class World:
    def __init__(self) -> None:
        self.ledger = ReferenceLedger()
        self.holds = ReferenceReservations(self.ledger)
        self.now = 1_800_000_000_000

    def apply(self, op: tuple[Any, ...]) -> None:
        kind, now, ledger = op[0], self.now, self.ledger
        if kind == "adjust":
            if op[1]:  # a zero adjustment is refused
                reason = "receipt" if op[1] > 0 else "damage"
                ledger.adjust(SKU, LOC, op[1], reason, "", now)
        elif kind == "count":
            ledger.set_on_hand(SKU, LOC, op[1], None, "cycle_count", "", now)
        elif kind == "safety":
            ledger.set_safety(SKU, LOC, op[1], "", now)
        elif kind == "add":
            ledger.add_incoming(SKU, LOC, op[1], op[2], DAY, now)
        elif kind == "receive":
            ledger.receive_incoming(SKU, LOC, op[1], op[2], None, "", now)
        elif kind == "cancel":
            ledger.cancel_incoming(SKU, LOC, op[1], "", now)
        elif kind == "redate":
            ledger.redate_incoming(SKU, LOC, op[1], DAY + timedelta(days=op[2]), "", now)
        elif kind == "reserve":
            self.holds.reserve(op[1], Channel.online, [Line(SKU, LOC, op[2])], HOLD_TTL_S, now)
        elif kind == "commit":
            self.holds.commit(op[1], now)
        elif kind == "expire":
            self.now += HOLD_TTL_S * 1000 + 1  # past every deadline: an expiry may run
            self.holds.expire(op[1], self.now)
        else:
            lines = [Line(SKU, LOC, op[2])] if op[2] else None
            self.holds.settle(op[1], kind, lines, "", now)

    def open_units(self) -> dict[str, int]:
        out = {}
        for rid in RIDS:
            found = self.holds.get(rid)
            units = sum(ln.open for ln in found.lines) if found is not None else 0
            if units:
                out[rid] = units
        return out

    def events(self) -> list[Event]:
        mine = [e for e in self.ledger.events[keys.partition_of_sku(SKU)] if e.sku == SKU]
        return [Event(**{**_fields(e), "id": f"0-{i}-0"}) for i, e in enumerate(mine)]


def _fields(e: Event) -> dict[str, Any]:
    return {f: getattr(e, f) for f in e.__struct_fields__}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(step, st.integers(0, 2)), min_size=1, max_size=30))
def test_the_fold_at_each_instant_is_the_models_state_then(
    ops: list[tuple[tuple[Any, ...], int]],
) -> None:
    world = World()
    seen: list[tuple[int, list[int], dict[str, tuple[int, int]], dict[str, int]]] = []
    for op, pause in ops:
        world.now += pause  # 0: several writes in one millisecond
        world.apply(op)
        # The state after every write of this millisecond is what `at` = now answers.
        if seen and seen[-1][0] == world.now:
            seen.pop()
        supplies = dict(world.ledger.supplies[(SKU, LOC)])
        seen.append((world.now, world.ledger.vector(SKU, LOC), supplies, world.open_units()))
    events = world.events()
    replay(events)  # every event's recorded position is its deltas' sum
    for at, vector, supplies, held in seen:
        upto = [e for e in events if e.ts_ms <= at]
        derived = derive(upto)
        if derived is None:
            assert vector == [0, 0, 0, 0] and not upto
            continue
        p = derived.position
        assert [p.on_hand, p.reserved, p.safety, p.incoming] == vector
        assert {s.supply_id: (s.qty, s.day) for s in derived.supplies} == supplies
        assert {h.reservation_id: h.units for h in derived.reservations} == held
        assert derived.reserved_unattributed == 0 and not derived.truncated
        assert derived.event_id == upto[-1].id
        steps = derived.on_hand_events
        if steps and steps[0].type == "counted":
            assert steps[0].on_hand + sum(s.d_on_hand for s in steps[1:]) == p.on_hand
        elif len(steps) < EXPLAIN_ON_HAND_EVENTS_MAX:
            assert sum(s.d_on_hand for s in steps) == p.on_hand
        for h in derived.reservations:
            assert set(h.event_ids) <= {e.id for e in upto if e.reservation_id == h.reservation_id}


def _event(i: int, kind: str, **kw: Any) -> Event:
    return Event(id=f"1-{i}-0", type=kind, sku=SKU, location=LOC, ts_ms=i, **kw)


def test_nothing_journaled_derives_nothing() -> None:
    assert derive([]) is None


def test_safety_comes_from_the_last_event_that_set_it() -> None:
    events = [
        _event(1, "adjusted", d_on_hand=5, on_hand=5),
        _event(2, "safety_set", d_safety=2, on_hand=5, safety=2),
        _event(3, "safety_set", on_hand=5, safety=2),  # set to what it was: no delta
        _event(4, "adjusted", d_on_hand=-1, on_hand=4, safety=2),
    ]
    derived = derive(events)
    assert derived is not None and derived.safety_event is not None
    assert derived.safety_event.event_id == "1-3-0" and derived.position.safety == 2
    assert [s.event_id for s in derived.on_hand_events] == ["1-1-0", "1-4-0"]


def test_long_lists_are_capped_and_flagged() -> None:
    many = [
        _event(i, "adjusted", d_on_hand=1, on_hand=i + 1)
        for i in range(EXPLAIN_ON_HAND_EVENTS_MAX + 5)
    ]
    derived = derive(many)
    assert derived is not None and derived.truncated
    assert len(derived.on_hand_events) == EXPLAIN_ON_HAND_EVENTS_MAX
    assert derived.on_hand_events[-1].event_id == many[-1].id  # the newest kept
