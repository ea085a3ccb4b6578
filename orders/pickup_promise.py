"""When a store can promise a pickup order ready: pure, no I/O.

The promise walks the store's opening hours in its own time zone: work starts once the
order is received and its stock is really there (now, or the morning incoming supply is
due), and only while the store is open (a midday break pauses it); an order received
within the cut-off before the day's closing starts at the next opening. It needs the
store's measured stage time (the 95th percentile of recent `staged_at -
order_received_at`, a default until there is data) plus the time its pick queue ahead
takes at the store's capacity per hour. The promise is always inside opening hours, never
on a holiday, and never before the stock is there.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Final

from catalog.locations import DAYS, Hours

STAGE_TIME_DEFAULT: Final = dt.timedelta(minutes=45)
CUTOFF_DEFAULT: Final = dt.timedelta(minutes=30)
# How far ahead a promise is looked for: a store closed longer has no promise to give.
HORIZON_DAYS: Final = 60


@dataclass(frozen=True, slots=True)
class Store:
    time_zone: str
    opening_hours: Hours
    holidays: Collection[dt.date] = ()  # local dates the store is closed
    cutoff: dt.timedelta = CUTOFF_DEFAULT  # before closing: later orders start next opening
    capacity_per_hour: int = 0  # orders picked an hour; 0: the queue is not counted


@dataclass(frozen=True, slots=True)
class Promise:
    at: dt.datetime  # aware, UTC
    local: dt.datetime  # the same instant in the store's zone
    text: str  # "today by 15:30", "tomorrow by 10:15", "Sat 5 Dec by 11:00"


class NoPromise(Exception):
    """The store is not open within the horizon: nothing can be promised."""


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


Opening = tuple[dt.datetime, dt.datetime, bool]  # opens, closes (local), the day's last


def _openings(store: Store, start_local: dt.datetime) -> Iterator[Opening]:
    """The store's open intervals (local, aware) from ``start_local``'s day on, in order."""
    zone = start_local.tzinfo
    day = start_local.date()
    for _ in range(HORIZON_DAYS + 1):
        spans = [] if day in store.holidays else store.opening_hours.get(DAYS[day.weekday()], [])
        midnight = dt.datetime.combine(day, dt.time(), zone)
        for index, (opens, closes) in enumerate(spans):
            yield (
                midnight + dt.timedelta(minutes=_minutes(opens)),
                midnight + dt.timedelta(minutes=_minutes(closes)),
                index == len(spans) - 1,
            )
        day += dt.timedelta(days=1)


def work_needed(stage_time: dt.timedelta, queue_ahead: int, capacity_per_hour: int) -> dt.timedelta:
    """Open time the order needs: its stage time, plus the queue ahead at the capacity."""
    if capacity_per_hour <= 0 or queue_ahead <= 0:
        return stage_time
    return stage_time + dt.timedelta(hours=queue_ahead / capacity_per_hour)


def promise(
    store: Store,
    received_at: dt.datetime,
    *,
    stock_from: dt.date | None = None,
    stage_time: dt.timedelta = STAGE_TIME_DEFAULT,
    queue_ahead: int = 0,
) -> Promise:
    """When an order received at ``received_at`` (aware) can be promised ready.

    ``stock_from``: the local date incoming supply makes the units available (None: they
    are there now); work starts no earlier than that day's opening."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be aware")
    zone = zoneinfo.ZoneInfo(store.time_zone)
    start = received_at.astimezone(zone)
    if stock_from is not None and stock_from > start.date():
        start = dt.datetime.combine(stock_from, dt.time(), zone)
    left = work_needed(stage_time, queue_ahead, store.capacity_per_hour)
    for opens, closes, last_of_day in _openings(store, start):
        if closes <= start:
            continue
        begin = max(opens, start)
        if last_of_day and begin > opens and begin >= closes - store.cutoff:
            continue  # received too close to closing time: starts at the next opening
        if begin + left <= closes:
            ready = _wall(begin + left, zone)
            return Promise(ready.astimezone(dt.UTC), ready, window_text(ready, received_at, zone))
        left -= closes - begin
    raise NoPromise(f"the store is not open within {HORIZON_DAYS} days")


def _wall(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Wall-clock arithmetic across a DST change, normalised to the zone's real offset."""
    return moment.astimezone(dt.UTC).astimezone(zone)


def window_text(ready: dt.datetime, received_at: dt.datetime, zone: dt.tzinfo) -> str:
    today = received_at.astimezone(zone).date()
    clock = ready.strftime("%H:%M")
    if ready.date() == today:
        return f"today by {clock}"
    if ready.date() == today + dt.timedelta(days=1):
        return f"tomorrow by {clock}"
    return f"{ready.strftime('%a')} {ready.day} {ready.strftime('%b')} by {clock}"
