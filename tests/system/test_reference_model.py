"""Random operation sequences against Redis and the reference model: every outcome,
position, reservation and event must agree, and the ledger invariants must hold."""

import asyncio
from datetime import date, timedelta

import msgspec
import pytest
import redis as sync_redis
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from atp.clock import ManualClock
from atp.events import read_all_events
from atp.limits import LEDGER_PARTITIONS
from atp.model import AdjustReason, Channel
from atp.rules import day_number
from engine.local import Engine
from oracles.ledger import ReferenceLedger
from oracles.reservations import ReferenceReservations
from reservations.model import Line
from support.env import REDIS_URL
from support.invariants_ledger import check_ledger_invariants
from support.machine import ensure_redis

pytestmark = pytest.mark.servers  # the machine reaches Redis itself, not by a fixture

SKUS = ["A", "K1", "B", "C"]  # A and K1 share a partition; B and C have their own
LOCATIONS = ["S1", "W1"]
RESERVATION_IDS = ["r1", "r2", "r3", "r4", "r5", "r6"]
TODAY = date(2027, 1, 15)

skus = st.sampled_from(SKUS)
locations = st.sampled_from(LOCATIONS)
op_ids = st.sampled_from(["", "", "op1", "op2"])
rids = st.sampled_from(RESERVATION_IDS)
channels = st.sampled_from(list(Channel))
order_lines = st.lists(
    st.tuples(skus, locations, st.integers(1, 3)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: (t[0], t[1]),
).map(lambda ts: [Line(*t) for t in ts])


def _no_id(events: list) -> list:
    return [msgspec.structs.replace(e, id="") for e in events]


class LedgerMachine(RuleBasedStateMachine):
    # True: one script per reservation (a single Redis). False: the cluster protocol, leg by
    # leg then the header, driven against the same single Redis.
    ATOMIC = True

    def __init__(self) -> None:
        super().__init__()
        ensure_redis(REDIS_URL)
        client = sync_redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.close()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.engine = Engine.connect(REDIS_URL, self.clock)
        self.engine.redis.cross_slot_scripts = self.ATOMIC
        self.ledger = ReferenceLedger()
        self.model = ReferenceReservations(self.ledger, atomic=self.ATOMIC)
        self.last_request: tuple[str, Channel, list[Line], int] | None = None

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def teardown(self) -> None:
        self.run(self.engine.close())
        self.loop.close()

    @staticmethod
    def same_stock(real, model) -> None:  # type: ignore[no-untyped-def]
        assert (real.result, real.position) == (model.result, model.position)

    @initialize(
        on_hand=st.lists(st.integers(0, 9), min_size=8, max_size=8),
        safety=st.lists(st.integers(0, 2), min_size=8, max_size=8),
    )
    def stock_up(self, on_hand: list[int], safety: list[int]) -> None:
        pairs = [(sku, loc) for sku in SKUS for loc in LOCATIONS]
        for (sku, loc), qty, buffer in zip(pairs, on_hand, safety, strict=True):
            if qty:
                self.adjust_both(sku, loc, qty, "receipt", "")
            if buffer:
                real = self.run(self.engine.stock.set_safety(sku, loc, buffer))
                self.same_stock(real, self.ledger.set_safety(sku, loc, buffer, "", self.now))

    def adjust_both(self, sku: str, loc: str, delta: int, reason: str, op: str) -> None:
        real = self.run(self.engine.stock.adjust(sku, loc, delta, reason, op or None))
        self.same_stock(real, self.ledger.adjust(sku, loc, delta, reason, op, self.now))

    @rule(
        sku=skus, loc=locations, delta=st.integers(-6, 12).filter(bool), op=op_ids, data=st.data()
    )
    def adjust(self, sku: str, loc: str, delta: int, op: str, data: st.DataObject) -> None:
        ups = [AdjustReason.receipt, AdjustReason.return_, AdjustReason.count_correction]
        downs = [AdjustReason.sale, AdjustReason.damage, AdjustReason.count_correction]
        reason = data.draw(st.sampled_from(ups if delta > 0 else downs)).value
        self.adjust_both(sku, loc, delta, reason, op)

    @rule(
        sku=skus,
        loc=locations,
        value=st.integers(0, 12),
        expected=st.none() | st.integers(0, 12),
        op=op_ids,
    )
    def count(self, sku: str, loc: str, value: int, expected: int | None, op: str) -> None:
        real = self.run(
            self.engine.stock.set_on_hand(
                sku, loc, value, expected_on_hand=expected, op_id=op or None
            )
        )
        model = self.ledger.set_on_hand(sku, loc, value, expected, "cycle_count", op, self.now)
        self.same_stock(real, model)

    @rule(sku=skus, loc=locations, safety=st.integers(0, 4), op=op_ids)
    def safety(self, sku: str, loc: str, safety: int, op: str) -> None:
        real = self.run(self.engine.stock.set_safety(sku, loc, safety, op or None))
        self.same_stock(real, self.ledger.set_safety(sku, loc, safety, op, self.now))

    @rule(
        sku=skus,
        loc=locations,
        supply=st.sampled_from(["po1", "po2", "po3"]),
        qty=st.integers(1, 5),
        days=st.integers(0, 9),
    )
    def add_incoming(self, sku: str, loc: str, supply: str, qty: int, days: int) -> None:
        on = TODAY + timedelta(days=days)
        real = self.run(self.engine.stock.add_incoming(sku, loc, supply, qty, on))
        self.same_stock(real, self.ledger.add_incoming(sku, loc, supply, qty, on, self.now))

    @rule(sku=skus, loc=locations, supply=st.sampled_from(["po1", "po2"]))
    def remove_incoming(self, sku: str, loc: str, supply: str) -> None:
        real = self.run(self.engine.stock.remove_incoming(sku, loc, supply))
        self.same_stock(real, self.ledger.remove_incoming(sku, loc, supply, self.now))

    @staticmethod
    def same_supply(real, model) -> None:  # type: ignore[no-untyped-def]
        fields = ("result", "position", "received", "retired", "remaining")
        assert [getattr(real, f) for f in fields] == [getattr(model, f) for f in fields]

    def known_supply(self, data: st.DataObject) -> tuple[str, str, str]:
        """Mostly a supply that exists, sometimes any (unknown supplies are refused)."""
        existing = sorted((k[0], k[1], i) for k, held in self.ledger.supplies.items() for i in held)
        if existing and data.draw(st.integers(0, 9)) < 8:
            return data.draw(st.sampled_from(existing))
        return data.draw(skus), data.draw(locations), data.draw(st.sampled_from(["po1", "po2"]))

    @rule(
        qty=st.none() | st.integers(1, 7),
        reason=st.sampled_from([None, "pallet"]),
        op=op_ids,
        data=st.data(),
    )
    def receive_incoming(
        self, qty: int | None, reason: str | None, op: str, data: st.DataObject
    ) -> None:
        sku, loc, supply = self.known_supply(data)
        stock = self.engine.stock
        real = self.run(
            stock.receive_incoming(sku, loc, supply, qty, reason=reason, op_id=op or None)
        )
        event(f"receive {real.result.value}{' over' if real.over_received else ''}")
        model = self.ledger.receive_incoming(sku, loc, supply, qty, reason, op, self.now)
        self.same_supply(real, model)

    @rule(op=op_ids, data=st.data())
    def cancel_incoming(self, op: str, data: st.DataObject) -> None:
        sku, loc, supply = self.known_supply(data)
        real = self.run(self.engine.stock.cancel_incoming(sku, loc, supply, op_id=op or None))
        event(f"cancel {real.result.value}")
        self.same_supply(real, self.ledger.cancel_incoming(sku, loc, supply, op, self.now))

    @rule(days=st.integers(0, 9), op=op_ids, data=st.data())
    def redate_incoming(self, days: int, op: str, data: st.DataObject) -> None:
        sku, loc, supply = self.known_supply(data)
        on = TODAY + timedelta(days=days)
        stock = self.engine.stock
        real = self.run(stock.redate_incoming(sku, loc, supply, on, op_id=op or None))
        event(f"redate {real.result.value}")
        model = self.ledger.redate_incoming(sku, loc, supply, on, op, self.now)
        self.same_supply(real, model)

    @rule(rid=rids, channel=channels, lines=order_lines, ttl=st.sampled_from([1, 2, 60]))
    def reserve(self, rid: str, channel: Channel, lines: list[Line], ttl: int) -> None:
        real = self.run(self.engine.reservations.reserve(rid, channel, lines, ttl))
        event(f"reserve {real.result.value}")
        assert real == self.model.reserve(rid, channel, lines, ttl, self.now)
        self.last_request = (rid, channel, lines, ttl)

    @precondition(lambda self: self.last_request is not None)
    @rule()
    def retry_reserve(self) -> None:
        assert self.last_request is not None
        rid, channel, lines, ttl = self.last_request
        real = self.run(self.engine.reservations.reserve(rid, channel, lines[::-1], ttl))
        event(f"retry {real.result.value}")
        assert real == self.model.reserve(rid, channel, lines[::-1], ttl, self.now)

    def known_rid(self, data: st.DataObject) -> str:
        """Mostly a reservation that exists, sometimes any id (unknown ids are refused)."""
        existing = sorted(self.model.headers)
        if existing and data.draw(st.integers(0, 9)) < 8:
            return data.draw(st.sampled_from(existing))
        return data.draw(rids)

    @precondition(lambda self: bool(self.model.headers))
    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        rid = self.known_rid(data)
        real = self.run(self.engine.reservations.commit(rid))
        event(f"commit {real.result.value}")
        model = self.model.commit(rid, self.now)
        assert (real.result, real.reservation) == (model.result, model.reservation)

    @precondition(lambda self: bool(self.model.headers))
    @rule(ttl=st.sampled_from([1, 30]), data=st.data())
    def extend(self, ttl: int, data: st.DataObject) -> None:
        rid = self.known_rid(data)
        real = self.run(self.engine.reservations.extend(rid, ttl))
        model = self.model.extend(rid, ttl, self.now)
        assert (real.result, real.reservation) == (model.result, model.reservation)

    def _some_lines(self, rid: str, data: st.DataObject) -> list[Line] | None:
        current = self.model.get(rid)
        if current is None or data.draw(st.booleans()):
            return None  # the whole reservation
        picked = data.draw(
            st.lists(
                st.sampled_from(current.lines),
                min_size=1,
                max_size=2,
                unique_by=lambda ln: (ln.sku, ln.location),
            )
        )
        return [Line(ln.sku, ln.location, data.draw(st.integers(1, 3))) for ln in picked]

    @precondition(lambda self: bool(self.model.headers))
    @rule(action=st.sampled_from(["fulfilled", "released"]), op=op_ids, data=st.data())
    def settle(self, action: str, op: str, data: st.DataObject) -> None:
        rid = self.known_rid(data)
        lines = self._some_lines(rid, data)
        service = self.engine.reservations
        call = service.fulfill if action == "fulfilled" else service.release
        real = self.run(call(rid, lines, op or None))
        event(f"{action} {'whole' if lines is None else 'part'} {real.result.value}")
        model = self.model.settle(rid, action, lines, op, self.now)
        assert (real.result, real.reservation) == (model.result, model.reservation)

    @rule(ms=st.sampled_from([400, 1_500, 6_000, 70_000]))
    def advance(self, ms: int) -> None:
        self.clock.advance(ms)

    @precondition(lambda self: any(self.model.expiry.values()))
    @rule()
    def sweep(self) -> None:
        expired = self.run(self.engine.sweeper.sweep_once())
        event(f"sweep expired {min(expired, 2)}")
        assert expired == self.model.sweep(self.now)

    @invariant()
    def agrees_with_model(self) -> None:
        positions = self.run(self.engine.availability.positions(SKUS, LOCATIONS))
        assert positions == [self.ledger.position(s, loc) for s in SKUS for loc in LOCATIONS]
        for rid in RESERVATION_IDS:
            assert self.run(self.engine.reservations.get(rid)) == self.model.get(rid)
        events = self.run(read_all_events(self.engine.redis))
        for partition in range(LEDGER_PARTITIONS):
            assert _no_id(events[partition]) == self.ledger.events.get(partition, [])
        self.run(check_ledger_invariants(self.engine.redis, events))
        pairs = [(s, loc) for s in SKUS for loc in LOCATIONS]
        supplies = self.run(self.engine.availability.supplies(pairs))
        for pair in pairs:
            held = self.ledger.supplies.get(pair, {})
            model = {(i, q, d) for i, (q, d) in held.items()}
            real = {(x.supply_id, x.qty, day_number(x.expected_on)) for x in supplies[pair]}
            assert real == model, pair


class LegByLegMachine(LedgerMachine):
    ATOMIC = False


# 45 x 50 steps per transport: ~25 s each here, so the whole suite stays under 10 minutes.
_SETTINGS = settings(
    max_examples=45,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LedgerMachine.TestCase.settings = _SETTINGS
LegByLegMachine.TestCase.settings = _SETTINGS
TestAtomicReservations = LedgerMachine.TestCase
TestLegByLegReservations = LegByLegMachine.TestCase
