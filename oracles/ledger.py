"""The reference model of the stock ledger: the same rules as the Lua scripts, in memory.

Property tests run random operations against this and against Redis and demand identical
positions, outcomes and events (ids aside). It is deliberately plain and slow.
"""

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import msgspec

from atp import digests, keys
from atp.limits import INCOMING_PER_POSITION_MAX, QTY_MAX
from atp.model import AdjustReason, Event, Position, StockOutcome, StockResult, SupplyOutcome
from atp.rules import apply_supply_event, check_adjust_sign, day_number, received_reason
from atp.validate import check_count, check_id, check_int, check_qty, check_reason

Vector = list[int]  # [on_hand, reserved, safety, incoming]


def online_atp(v: Vector) -> int:
    return max(0, v[0] - v[1] - v[2])


class ReferenceLedger:
    def __init__(self) -> None:
        self.positions: dict[tuple[str, str], Vector] = {}
        self.supplies: dict[tuple[str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
        self.events: dict[int, list[Event]] = defaultdict(list)
        self.receipts: dict[tuple[int, str], tuple[str, StockOutcome]] = {}

    def vector(self, sku: str, location: str) -> Vector:
        return list(self.positions.get((sku, location), [0, 0, 0, 0]))

    def position(self, sku: str, location: str) -> Position:
        return Position(sku, location, *self.vector(sku, location))

    def write(
        self,
        sku: str,
        location: str,
        before: Vector,
        after: Vector,
        now_ms: int,
        type_: str,
        reason: str = "",
        rid: str = "",
        op: str = "",
    ) -> str:
        """Sets the position and appends its event; returns a stand-in event id. A count
        settles what registers oversold (atp/lua/set_on_hand.lua): its event says 0."""
        self.positions[(sku, location)] = after
        partition = keys.partition_of_sku(sku)
        d = [a - b for a, b in zip(after, before, strict=True)]
        self.events[partition].append(
            Event(
                id="",
                type=type_,
                sku=sku,
                location=location,
                d_on_hand=d[0],
                d_reserved=d[1],
                d_safety=d[2],
                d_incoming=d[3],
                on_hand=after[0],
                reserved=after[1],
                safety=after[2],
                incoming=after[3],
                reason=reason,
                reservation_id=rid,
                op_id=op,
                ts_ms=now_ms,
                oversold=0 if type_ == "counted" else None,
            )
        )
        return f"{partition}-{len(self.events[partition])}"

    def emit_header(
        self,
        rid: str,
        type_: str,
        reason: str,
        now_ms: int,
        held: tuple[str, int, str] = ("", 0, ""),
    ) -> None:
        """A reservation header event; ``held``: what `reservation_held` carries of its
        header (digest, deadline, leg partitions)."""
        digest, expires_ms, parts = held
        event = Event(
            id="", type=type_, reason=reason, reservation_id=rid, ts_ms=now_ms,
            digest=digest, expires_ms=expires_ms, parts=parts,
        )  # fmt: skip
        self.events[keys.partition_of_reservation(rid)].append(event)

    def _outcome(
        self, result: StockResult, sku: str, loc: str, event_id: str | None = None
    ) -> StockOutcome:
        return StockOutcome(result, self.position(sku, loc), event_id)

    def _receipted(
        self,
        sku: str,
        loc: str,
        op_id: str,
        digest: str,
        now_ms: int,
        type_: str,
        reason: str,
        change: Any,
    ) -> StockOutcome:
        key = (keys.partition_of_sku(sku), op_id or "-")
        if op_id and key in self.receipts:
            stored_digest, first = self.receipts[key]
            if stored_digest != digest:
                return self._outcome(StockResult.op_conflict, sku, loc)
            return StockOutcome(StockResult.duplicate, first.position, first.event_id)
        before = self.vector(sku, loc)
        after = change(before)
        if isinstance(after, StockResult):
            return self._outcome(after, sku, loc)
        event_id = self.write(sku, loc, before, after, now_ms, type_, reason, op=op_id)
        outcome = StockOutcome(StockResult.applied, self.position(sku, loc), event_id)
        if op_id:
            self.receipts[key] = (digest, outcome)
        return outcome

    def adjust(
        self, sku: str, loc: str, delta: int, reason: str, op_id: str, now_ms: int
    ) -> StockOutcome:
        check_id("sku", sku)
        check_id("location", loc)
        check_int("delta", delta, -QTY_MAX, QTY_MAX)
        check_adjust_sign(AdjustReason(reason), delta)

        def change(v: Vector) -> Vector | StockResult:
            if v[0] + delta < 0:
                return StockResult.negative_on_hand
            if v[0] + delta > QTY_MAX:
                return StockResult.over_limit
            return [v[0] + delta, v[1], v[2], v[3]]

        digest = digests.adjust(sku, loc, delta, reason)
        return self._receipted(sku, loc, op_id, digest, now_ms, "adjusted", reason, change)

    def set_on_hand(
        self,
        sku: str,
        loc: str,
        on_hand: int,
        expected: int | None,
        reason: str,
        op_id: str,
        now_ms: int,
    ) -> StockOutcome:
        check_count("on_hand", on_hand)

        def change(v: Vector) -> Vector | StockResult:
            if expected is not None and expected != v[0]:
                return StockResult.expected_mismatch
            return [on_hand, v[1], v[2], v[3]]

        digest = digests.count(sku, loc, on_hand, "" if expected is None else expected, reason)
        return self._receipted(sku, loc, op_id, digest, now_ms, "counted", reason, change)

    def set_safety(self, sku: str, loc: str, safety: int, op_id: str, now_ms: int) -> StockOutcome:
        check_count("safety", safety)
        digest = digests.safety(sku, loc, safety)
        return self._receipted(
            sku,
            loc,
            op_id,
            digest,
            now_ms,
            "safety_set",
            "safety",
            lambda v: [v[0], v[1], safety, v[3]],
        )

    def add_incoming(
        self, sku: str, loc: str, supply_id: str, qty: int, on: date, now_ms: int
    ) -> StockOutcome:
        check_qty("qty", qty)
        supplies, day = self.supplies[(sku, loc)], day_number(on)
        if supply_id in supplies:
            same = supplies[supply_id] == (qty, day)
            return self._outcome(
                StockResult.duplicate if same else StockResult.supply_conflict, sku, loc
            )
        if len(supplies) >= INCOMING_PER_POSITION_MAX:
            return self._outcome(StockResult.too_many_supplies, sku, loc)
        supplies[supply_id] = (qty, day)
        before = self.vector(sku, loc)
        after = [before[0], before[1], before[2], before[3] + qty]
        event_id = self.write(
            sku, loc, before, after, now_ms, "incoming_added", f"{supply_id}@{day}"
        )
        return self._outcome(StockResult.applied, sku, loc, event_id)

    def remove_incoming(self, sku: str, loc: str, supply_id: str, now_ms: int) -> StockOutcome:
        supplies = self.supplies[(sku, loc)]
        if supply_id not in supplies:
            return self._outcome(StockResult.supply_not_found, sku, loc)
        qty, _ = supplies.pop(supply_id)
        before = self.vector(sku, loc)
        after = [before[0], before[1], before[2], before[3] - qty]
        event_id = self.write(sku, loc, before, after, now_ms, "incoming_removed", supply_id)
        return self._outcome(StockResult.applied, sku, loc, event_id)

    def _supply_receipted(
        self, sku: str, loc: str, op_id: str, digest: str, change: Callable[[], SupplyOutcome]
    ) -> SupplyOutcome:
        """As _receipted, for the supply scripts (their receipts hold the supply counts)."""
        key = (keys.partition_of_sku(sku), op_id or "-")
        if op_id and key in self.receipts:
            stored_digest, first = self.receipts[key]
            if stored_digest != digest or not isinstance(first, SupplyOutcome):
                return SupplyOutcome(StockResult.op_conflict, self.position(sku, loc))
            return msgspec.structs.replace(first, result=StockResult.duplicate)
        outcome = change()
        if op_id and outcome.result is StockResult.applied:
            self.receipts[key] = (digest, outcome)
        return outcome

    def _supply_event(
        self, sku: str, loc: str, after: Vector, now_ms: int, type_: str, why: str, op_id: str
    ) -> str:
        """Writes a supply event and applies it to the supplies as a rebuild would."""
        before = self.vector(sku, loc)
        event_id = self.write(sku, loc, before, after, now_ms, type_, why, op=op_id)
        apply_supply_event(self.supplies[(sku, loc)], type_, why, after[3] - before[3])
        return event_id

    def receive_incoming(
        self,
        sku: str,
        loc: str,
        supply_id: str,
        qty: int | None,
        reason: str | None,
        op_id: str,
        now_ms: int,
    ) -> SupplyOutcome:
        given = "" if qty is None else check_qty("qty", qty)
        why = "" if reason is None else check_reason("reason", reason)

        def change() -> SupplyOutcome:
            supplies, before = self.supplies[(sku, loc)], self.vector(sku, loc)
            if supply_id not in supplies:
                return SupplyOutcome(StockResult.supply_not_found, self.position(sku, loc))
            expected = supplies[supply_id][0]
            received = expected if qty is None else qty
            if before[0] + received > QTY_MAX:
                return SupplyOutcome(StockResult.over_limit, self.position(sku, loc))
            retired = min(received, expected)
            after = [before[0] + received, before[1], before[2], before[3] - retired]
            event_id = self._supply_event(
                sku, loc, after, now_ms, "incoming_received", received_reason(supply_id, why), op_id
            )
            left = supplies.get(supply_id, (0, 0))[0]
            return SupplyOutcome(
                StockResult.applied,
                self.position(sku, loc),
                event_id,
                received=received,
                retired=retired,
                remaining=left,
            )

        digest = digests.receive(sku, loc, supply_id, given, why)
        return self._supply_receipted(sku, loc, op_id, digest, change)

    def cancel_incoming(
        self, sku: str, loc: str, supply_id: str, op_id: str, now_ms: int
    ) -> SupplyOutcome:
        def change() -> SupplyOutcome:
            supplies, before = self.supplies[(sku, loc)], self.vector(sku, loc)
            if supply_id not in supplies:
                return SupplyOutcome(StockResult.supply_not_found, self.position(sku, loc))
            qty = supplies[supply_id][0]
            after = [before[0], before[1], before[2], before[3] - qty]
            event_id = self._supply_event(
                sku, loc, after, now_ms, "incoming_cancelled", supply_id, op_id
            )
            position = self.position(sku, loc)
            return SupplyOutcome(StockResult.applied, position, event_id, retired=qty)

        digest = digests.cancel(sku, loc, supply_id)
        return self._supply_receipted(sku, loc, op_id, digest, change)

    def redate_incoming(
        self, sku: str, loc: str, supply_id: str, on: date, op_id: str, now_ms: int
    ) -> SupplyOutcome:
        day = day_number(on)

        def change() -> SupplyOutcome:
            supplies, before = self.supplies[(sku, loc)], self.vector(sku, loc)
            if supply_id not in supplies:
                return SupplyOutcome(StockResult.supply_not_found, self.position(sku, loc))
            qty, old_day = supplies[supply_id]
            if old_day == day:  # nothing to change: no event, no receipt
                return SupplyOutcome(StockResult.duplicate, self.position(sku, loc), remaining=qty)
            why = f"{supply_id}@{day}"
            event_id = self._supply_event(sku, loc, before, now_ms, "incoming_redated", why, op_id)
            position = self.position(sku, loc)
            return SupplyOutcome(StockResult.applied, position, event_id, remaining=qty)

        digest = digests.redate(sku, loc, supply_id, day)
        return self._supply_receipted(sku, loc, op_id, digest, change)


def replay(events: list[Event]) -> dict[tuple[str, str], Vector]:
    """Positions rebuilt from events alone: each applies its deltas, and must land on the
    position after it that the event records."""
    positions: dict[tuple[str, str], Vector] = {}
    for event in events:
        if not event.sku:
            continue
        v = positions.setdefault((event.sku, event.location), [0, 0, 0, 0])
        v[0] += event.d_on_hand
        v[1] += event.d_reserved
        v[2] += event.d_safety
        v[3] += event.d_incoming
        recorded = [event.on_hand, event.reserved, event.safety, event.incoming]
        assert v == recorded, f"event {event.id} {event.type}: replay {v} != recorded {recorded}"
    return positions
