"""The ledger's rules as plain functions: no Redis, no await. The Lua scripts implement the
same rules; the reference model and the property tests hold the two together."""

from collections.abc import Iterable
from datetime import date, timedelta

from atp.model import REASON_SIGN, AdjustReason, Channel, InvalidInput, Position, Supply

EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_from_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


def check_adjust_sign(reason: AdjustReason, delta: int) -> None:
    sign = REASON_SIGN[reason]
    if delta == 0:
        raise InvalidInput("delta", "must not be zero")
    if sign is not None and (delta > 0) != (sign > 0):
        direction = "positive" if sign > 0 else "negative"
        raise InvalidInput("delta", f"must be {direction} for reason {reason.value}")


def group_atp(positions: Iterable[Position], channel: Channel) -> int:
    """A group's ATP is the sum of its members' (each clamped: one store's oversell does not
    take units from another)."""
    return sum(p.atp(channel) for p in positions)


def promise_date(
    stock: Iterable[tuple[Position, Iterable[Supply]]], qty: int, channel: Channel, today: date
) -> date | None:
    """The earliest day by which ``qty`` can be promised across the given locations, counting
    incoming supply (late supply counts from today), or None when it never can."""
    members = [(p, [(max(today, s.expected_on), s.qty) for s in supplies]) for p, supplies in stock]
    days = sorted({today} | {d for _, arrivals in members for d, _ in arrivals})
    for day in days:
        total = 0
        for position, arrivals in members:
            arriving = sum(q for d, q in arrivals if d <= day)
            total += max(0, position.available(channel) + arriving)
        if total >= qty:
            return day
    return None


# The events that change a position's incoming supply, and what their `why` holds:
# added "<id>@<day>", removed and cancelled "<id>", received "<id>" or "<id>:<reason>",
# re-dated "<id>@<new day>". Supply ids hold neither "@" nor ":" (atp/validate.py).
SUPPLY_EVENTS = (
    "incoming_added",
    "incoming_removed",
    "incoming_received",
    "incoming_cancelled",
    "incoming_redated",
)
SupplyState = dict[str, tuple[int, int]]  # supply id -> (qty, day number)


def received_reason(supply_id: str, reason: str) -> str:
    return f"{supply_id}:{reason}" if reason else supply_id


def apply_supply_event(supplies: SupplyState, kind: str, why: str, d_incoming: int) -> None:
    """One event's effect on a position's supplies: a rebuild folds the journal with it,
    as the Lua scripts changed the supply hash. A receipt shrinks the supply by the units
    it retired (d_incoming < 0) and drops it at zero."""
    if kind == "incoming_added":
        supply_id, _, day = why.rpartition("@")
        supplies[supply_id] = (d_incoming, int(day))
    elif kind in ("incoming_removed", "incoming_cancelled"):
        supplies.pop(why, None)
    elif kind == "incoming_received":
        supply_id = why.partition(":")[0]
        if supply_id in supplies:
            qty, expected_day = supplies[supply_id]
            if qty + d_incoming > 0:
                supplies[supply_id] = (qty + d_incoming, expected_day)
            else:
                del supplies[supply_id]
    elif kind == "incoming_redated":
        supply_id, _, day = why.rpartition("@")
        if supply_id in supplies:
            supplies[supply_id] = (supplies[supply_id][0], int(day))
