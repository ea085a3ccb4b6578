"""The pure rules of back-in-stock alerts: no I/O, no clock.

- ``email`` / ``phone``: one spelling per contact, so a second sign-up is found as the same.
- ``check_consent``: no alert without a consent that was given.
- ``windows``: who is told what for the stock there is. Each unit available now tells
  ``per_unit`` waiting subscribers (oldest first) "in stock at <name> now"; once those run
  out, each unit incoming supply adds by a day within the horizon tells ``per_unit`` more
  "expected ... by <day>" (the day ``atp.rules.promise_date`` gives for that unit). Nothing
  at all when no unit is there now: a restock that is gone again tells nobody.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from alerts.limits import (
    CONSENT_FUTURE_SKEW_S,
    EMAIL_LENGTH_MAX,
    PHONE_DIGITS_MAX,
    PHONE_DIGITS_MIN,
)
from atp.model import InvalidInput

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+")
_PHONE_SEPARATORS = re.compile(r"[\s\-./()]")


def email(text: str) -> str:
    """Trimmed and lower-cased: mail systems treat addresses case-insensitively in practice."""
    value = text.strip().lower()
    if len(value) > EMAIL_LENGTH_MAX or not _EMAIL.fullmatch(value):
        raise InvalidInput("contact.email", "must be an email address such as kari@example.no")
    return value


def phone(text: str) -> str:
    """E.164-ish: '+' and the digits, separators dropped, a leading 00 read as '+'. A
    number without its country code is refused: it cannot be told apart from another."""
    value = _PHONE_SEPARATORS.sub("", text.strip())
    if value.startswith("00"):
        value = "+" + value[2:]
    digits = value[1:]
    if not value.startswith("+") or not digits.isdigit() or not digits.isascii():
        raise InvalidInput(
            "contact.phone", "must be an international number: +<country code><number>"
        )
    if not PHONE_DIGITS_MIN <= len(digits) <= PHONE_DIGITS_MAX or digits[0] == "0":
        raise InvalidInput(
            "contact.phone",
            f"must hold {PHONE_DIGITS_MIN} to {PHONE_DIGITS_MAX} digits after a country code",
        )
    return value


def contact(email_text: str | None, phone_text: str | None) -> tuple[str, str]:
    """(kind, normalised value) of a contact that gives exactly one of email and phone."""
    if (email_text is None) == (phone_text is None):
        raise InvalidInput("contact", "give exactly one of email and phone")
    if email_text is not None:
        return "email", email(email_text)
    assert phone_text is not None
    return "phone", phone(phone_text)


def check_consent(given: bool, at: datetime, now: datetime) -> None:
    if not given:
        raise InvalidInput("consent.given", "must be true: no alert is sent without consent")
    if at.tzinfo is None:
        raise InvalidInput("consent.at", "must carry a time zone (e.g. 2026-12-03T10:00:00Z)")
    if at > now + timedelta(seconds=CONSENT_FUTURE_SKEW_S):
        raise InvalidInput("consent.at", "must not be in the future")


def check_scope(location: str | None, group: str | None) -> None:
    if (location is None) == (group is None):
        raise InvalidInput("location", "give exactly one of location and group")


@dataclass(frozen=True, slots=True)
class LocationStock:
    """One location of a subscription's scope, for its channel, at send time."""

    location: str
    name: str  # the catalog's name, else the id
    available: int  # unclamped: on hand - reserved (- safety online); may be negative
    arrivals: tuple[tuple[date, int], ...] = ()  # incoming supply: (expected day, qty)


@dataclass(frozen=True, slots=True)
class Window:
    kind: str  # "now" | "incoming"
    location: str
    name: str
    day: date  # today for "now"; the promise date for "incoming"
    unit: int  # which unit (1-based) this notification rests on

    @property
    def text(self) -> str:
        if self.kind == "now":
            return f"in stock at {self.name} now"
        return f"expected in stock at {self.name} by {day_text(self.day)}"


def day_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def units_now(stock: Sequence[LocationStock]) -> int:
    return sum(max(0, s.available) for s in stock)


def _now_units(stock: Sequence[LocationStock], today: date, limit: int) -> list[Window]:
    """Units on hand, the location with the most first (ties by id)."""
    out: list[Window] = []
    for s in sorted(stock, key=lambda s: (-s.available, s.location)):
        for _ in range(max(0, s.available)):
            if len(out) >= limit:
                return out
            out.append(Window("now", s.location, s.name, today, len(out) + 1))
    return out


def _incoming_units(
    stock: Sequence[LocationStock], today: date, horizon: date, first_unit: int, limit: int
) -> list[Window]:
    """Units incoming supply adds, day by day, as atp.rules.promise_date counts them (late
    supply from today; each location's arrivals first fill what it has promised beyond
    its stock). Each new unit is credited to the location whose total grew most that day."""
    arrivals = [[(max(today, d), q) for d, q in s.arrivals] for s in stock]
    days = sorted({d for each in arrivals for d, _ in each if d <= horizon})
    before = [max(0, s.available) for s in stock]
    out: list[Window] = []
    unit = first_unit
    for day in days:
        after = [
            max(0, s.available + sum(q for d, q in each if d <= day))
            for s, each in zip(stock, arrivals, strict=True)
        ]
        growth = [a - b for a, b in zip(after, before, strict=True)]
        added = sum(growth)
        if added > 0:
            best = min(range(len(stock)), key=lambda i: (-growth[i], stock[i].location))
            for _ in range(added):
                if len(out) >= limit:
                    return out
                out.append(Window("incoming", stock[best].location, stock[best].name, day, unit))
                unit += 1
        before = after
    return out


def units(
    stock: Sequence[LocationStock], today: date, horizon_days: int, limit: int
) -> list[Window]:
    """The units there are to notify for, in order: on hand now, then incoming by day.
    Empty when nothing is there now."""
    now = _now_units(stock, today, limit)
    if not now:
        return []
    horizon = today + timedelta(days=horizon_days)
    return now + _incoming_units(stock, today, horizon, len(now) + 1, limit - len(now))


def windows(
    stock: Sequence[LocationStock],
    per_unit: int,
    today: date,
    horizon_days: int,
    skip: int,
    limit: int,
) -> list[Window]:
    """The windows of the waiting subscribers number ``skip`` .. ``skip + limit - 1``
    (oldest first, 0-based) of this restock: subscriber k rests on unit k // per_unit + 1.
    ``skip``: those this restock already told (a restock is sent in bounded passes)."""
    assert per_unit >= 1 and skip >= 0 and limit >= 0
    if limit == 0:
        return []
    available = units(stock, today, horizon_days, (skip + limit - 1) // per_unit + 1)
    out: list[Window] = []
    for k in range(skip, skip + limit):
        u = k // per_unit
        if u >= len(available):
            break
        out.append(available[u])
    return out
