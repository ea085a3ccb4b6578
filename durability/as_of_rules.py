"""A position as of an instant, and how it came to be, folded from its journaled events
(pure: durability/as_of.py reads the events, this folds them).

The events of one (sku, location), in stream order, up to the instant. The last one holds
the position after it (on hand, reserved, safety, incoming); the rest say why:
- reserved: each reservation's open units there, the sum of its events' reserved deltas
  (reserve, release, fulfill, expire, move, roll back all carry ``d_reserved``);
- incoming: each supply as atp/rules.py ``apply_supply_event`` folds it for a rebuild;
- safety: the last event that set it;
- on hand: the last count and every change of on hand after it.
Each part keeps the event ids that made it, and lists are capped (``truncated``).
"""

import msgspec

from atp.model import Event, Position
from atp.rules import SUPPLY_EVENTS, SupplyState, apply_supply_event

# At most this many reservations, supplies and on-hand events in one explanation: a
# customer's dispute needs the few that matter, not a position's whole life.
EXPLAIN_RESERVATIONS_MAX = 50
EXPLAIN_SUPPLIES_MAX = 50
EXPLAIN_ON_HAND_EVENTS_MAX = 20
# Event ids kept per reservation or supply (a hold is reserved, then settled: a handful).
EXPLAIN_EVENTS_PER_PART_MAX = 20

COUNTED = "counted"
SAFETY_SET = "safety_set"


class Held(msgspec.Struct, frozen=True):
    reservation_id: str
    units: int  # open units at the position at the instant
    event_ids: list[str]


class Incoming(msgspec.Struct, frozen=True):
    supply_id: str
    qty: int
    day: int  # expected day, days since 1970-01-01
    event_ids: list[str]


class Step(msgspec.Struct, frozen=True):
    """An event that moved on hand (or counted it)."""

    event_id: str
    type: str
    ts_ms: int
    d_on_hand: int
    on_hand: int  # after it
    reason: str


class Derivation(msgspec.Struct, frozen=True):
    position: Position
    event_id: str  # the last event at or before the instant
    ts_ms: int
    reservations: list[Held]
    # Reserved units no journaled reservation accounts for (0 unless the journal was cut).
    reserved_unattributed: int
    supplies: list[Incoming]
    safety_event: Step | None  # the event that set safety (None: never set)
    on_hand_events: list[Step]  # the last count, then each change of on hand, oldest first
    truncated: bool


def _step(e: Event) -> Step:
    return Step(e.id, e.type, e.ts_ms, e.d_on_hand, e.on_hand, e.reason)


def _supply_of(kind: str, why: str) -> str:
    """The supply id an event's reason names (atp/rules.py ``apply_supply_event``'s forms)."""
    if kind == "incoming_received":
        return why.partition(":")[0]
    return why.rpartition("@")[0] if kind in ("incoming_added", "incoming_redated") else why


def _capped(ids: list[str]) -> list[str]:
    return ids[-EXPLAIN_EVENTS_PER_PART_MAX:]


def derive(events: list[Event]) -> Derivation | None:
    """The derivation of the position after ``events`` (one position's, stream order, all
    at or before the instant); None when there are none."""
    if not events:
        return None
    last = events[-1]
    held: dict[str, int] = {}
    held_ids: dict[str, list[str]] = {}
    supplies: SupplyState = {}
    supply_ids: dict[str, list[str]] = {}
    safety: Step | None = None
    on_hand: list[Step] = []
    for e in events:
        if e.reservation_id and e.d_reserved:
            held[e.reservation_id] = held.get(e.reservation_id, 0) + e.d_reserved
            held_ids.setdefault(e.reservation_id, []).append(e.id)
        if e.type in SUPPLY_EVENTS:
            apply_supply_event(supplies, e.type, e.reason, e.d_incoming)
            supply_ids.setdefault(_supply_of(e.type, e.reason), []).append(e.id)
        if e.type == SAFETY_SET or e.d_safety:
            safety = _step(e)
        if e.type == COUNTED:
            on_hand = [_step(e)]
        elif e.d_on_hand:
            on_hand.append(_step(e))
    open_ = [Held(r, n, _capped(held_ids[r])) for r, n in held.items() if n > 0]
    incoming = [Incoming(s, q, d, _capped(supply_ids.get(s, []))) for s, (q, d) in supplies.items()]
    truncated = (
        len(open_) > EXPLAIN_RESERVATIONS_MAX
        or len(incoming) > EXPLAIN_SUPPLIES_MAX
        or len(on_hand) > EXPLAIN_ON_HAND_EVENTS_MAX
    )
    # The largest holds and supplies first: they explain the most units.
    open_.sort(key=lambda h: (-h.units, h.reservation_id))
    incoming.sort(key=lambda s: (-s.qty, s.supply_id))
    p = Position(last.sku, last.location, last.on_hand, last.reserved, last.safety, last.incoming)
    return Derivation(
        position=p,
        event_id=last.id,
        ts_ms=last.ts_ms,
        reservations=open_[:EXPLAIN_RESERVATIONS_MAX],
        reserved_unattributed=last.reserved - sum(h.units for h in open_),
        supplies=incoming[:EXPLAIN_SUPPLIES_MAX],
        safety_event=safety,
        on_hand_events=on_hand[-EXPLAIN_ON_HAND_EVENTS_MAX:],
        truncated=truncated,
    )
