"""Locations as the catalog holds them, and parsing them from a CSV row (pure, no I/O)."""

import datetime as dt
import re
import zoneinfo
from functools import cache

import msgspec

from atp.model import InvalidInput
from atp.validate import check_id, check_int

KINDS = ("store", "warehouse", "dark_store")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LOCATION_REQUIRED = ("id", "name", "kind", "latitude", "longitude", "time_zone")
LOCATION_OPTIONAL = (
    "opening_hours", "pickup", "ship", "ship_from_store", "daily_pick_capacity", "priority",
    "groups", "holidays", "pickup_cutoff_minutes", "pickup_capacity_per_hour",
)  # fmt: skip
PICK_CAPACITY_MAX = 10_000_000
PRIORITY_MAX = 1_000_000
NAME_LENGTH_MAX = 200
HOLIDAYS_MAX = 366  # closed days a location lists
PICKUP_CUTOFF_MINUTES_MAX = 720  # migrations/0011_orders.sql checks the same
PICKUP_CUTOFF_MINUTES_DEFAULT = 30
PICKUP_CAPACITY_PER_HOUR_MAX = 100_000

_RANGE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", ""}

Hours = dict[str, list[list[str]]]  # {"mon": [["09:00", "21:00"]], ...}; missing = closed


class CatalogLocation(msgspec.Struct, frozen=True):
    """A row of the catalog's ``locations``; routing sees it as a RoutingLocation
    (catalog/routing_directory.py)."""

    id: str
    name: str
    kind: str
    latitude: float
    longitude: float
    time_zone: str
    opening_hours: Hours
    pickup: bool
    ship: bool
    ship_from_store: bool
    daily_pick_capacity: int
    priority: int
    groups: tuple[str, ...] = ()
    # Pickup (orders/pickup_promise.py): local dates closed, orders this close to closing
    # start at the next opening, pickup orders staged an hour (0: the queue is not counted).
    holidays: tuple[dt.date, ...] = ()
    pickup_cutoff_minutes: int = PICKUP_CUTOFF_MINUTES_DEFAULT
    pickup_capacity_per_hour: int = 0


def parse_holidays(text: str) -> tuple[dt.date, ...]:
    """'2026-12-24; 2026-12-25' (local dates the location is closed)."""
    days = []
    for part in text.split(";"):
        if not part.strip():
            continue
        try:
            days.append(dt.date.fromisoformat(part.strip()))
        except ValueError:
            raise InvalidInput("holidays", f"bad date {part.strip()!r} (YYYY-MM-DD)") from None
    if len(days) > HOLIDAYS_MAX:
        raise InvalidInput("holidays", f"at most {HOLIDAYS_MAX} days")
    return tuple(sorted(set(days)))


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _days(spec: str) -> list[str]:
    if "-" in spec:
        first, _, last = spec.partition("-")
        if first not in DAYS or last not in DAYS or DAYS.index(first) > DAYS.index(last):
            raise InvalidInput("opening_hours", f"bad day range {spec!r}")
        return list(DAYS[DAYS.index(first) : DAYS.index(last) + 1])
    if spec not in DAYS:
        raise InvalidInput("opening_hours", f"unknown day {spec!r} (use mon..sun)")
    return [spec]


def parse_hours(text: str) -> Hours:
    """'mon-fri 09:00-21:00; sat 10:00-14:00,15:00-18:00; sun closed'."""
    hours: Hours = {}
    for part in filter(None, (p.strip() for p in text.lower().split(";"))):
        day_spec, _, times = part.partition(" ")
        ranges: list[list[str]] = []
        if times.strip() != "closed":
            for span in times.replace(" ", "").split(","):
                match = _RANGE.fullmatch(span)
                if match is None or span[:5] >= span[6:]:
                    raise InvalidInput("opening_hours", f"bad time range {span!r} (HH:MM-HH:MM)")
                ranges.append([span[:5], span[6:]])
        for day in _days(day_spec):
            if ranges:
                hours[day] = ranges
            else:
                hours.pop(day, None)
    return hours


def _float(field: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(field, f"must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidInput(field, f"must be between {low} and {high}")
    return value


def _bool(field: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(field, f"must be true or false, got {text!r}")


def _int(field: str, text: str, default: int, high: int) -> int:
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(field, f"must be a whole number, got {text!r}") from None
    return check_int(field, value, 0, high)


def parse_location(row: dict[str, str]) -> CatalogLocation:
    kind = row["kind"].lower()
    if kind not in KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(KINDS)}")
    name = row["name"]
    if not 1 <= len(name) <= NAME_LENGTH_MAX:
        raise InvalidInput("name", f"must be 1 to {NAME_LENGTH_MAX} characters")
    if row["time_zone"] not in _zones():
        raise InvalidInput("time_zone", f"unknown IANA time zone {row['time_zone']!r}")
    groups = tuple(g.strip() for g in row.get("groups", "").split(";") if g.strip())
    for g in groups:
        check_id("groups", g)
    return CatalogLocation(
        id=check_id("id", row["id"]),
        name=name,
        kind=kind,
        latitude=_float("latitude", row["latitude"], -90, 90),
        longitude=_float("longitude", row["longitude"], -180, 180),
        time_zone=row["time_zone"],
        opening_hours=parse_hours(row.get("opening_hours", "")),
        pickup=_bool("pickup", row.get("pickup", "")),
        ship=_bool("ship", row.get("ship", "")),
        ship_from_store=_bool("ship_from_store", row.get("ship_from_store", "")),
        daily_pick_capacity=_int(
            "daily_pick_capacity", row.get("daily_pick_capacity", ""), 0, PICK_CAPACITY_MAX
        ),
        priority=_int("priority", row.get("priority", ""), 100, PRIORITY_MAX),
        groups=groups,
        holidays=parse_holidays(row.get("holidays", "")),
        pickup_cutoff_minutes=_int(
            "pickup_cutoff_minutes",
            row.get("pickup_cutoff_minutes", ""),
            PICKUP_CUTOFF_MINUTES_DEFAULT,
            PICKUP_CUTOFF_MINUTES_MAX,
        ),
        pickup_capacity_per_hour=_int(
            "pickup_capacity_per_hour",
            row.get("pickup_capacity_per_hour", ""),
            0,
            PICKUP_CAPACITY_PER_HOUR_MAX,
        ),
    )
