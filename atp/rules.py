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
