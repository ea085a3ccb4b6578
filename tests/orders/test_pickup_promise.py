"""The pickup promise (orders/pickup_promise.py): inside opening hours in the store's own
time zone, never on a holiday, never before the stock is there, later for a later order or
a longer queue."""

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.locations import DAYS, parse_hours
from orders.pickup_promise import NoPromise, Store, promise

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
HOURS = parse_hours("mon-fri 09:00-21:00; sat 10:00-14:00,15:00-18:00; sun closed")
STORE = Store("Europe/Oslo", HOURS, capacity_per_hour=12)


def at(day: int, clock: str, month: int = 12) -> dt.datetime:
    """A local Oslo time in 2026 (7 Dec 2026 is a Monday)."""
    hours, minutes = (int(v) for v in clock.split(":"))
    return dt.datetime(2026, month, day, hours, minutes, tzinfo=OSLO)


def test_an_order_in_the_morning_is_promised_today_after_the_stage_time() -> None:
    made = promise(STORE, at(7, "10:00"))
    assert made.local == at(7, "10:45") and made.text == "today by 10:45"
    assert made.at.tzinfo is dt.UTC and made.at == at(7, "10:45")


def test_the_queue_ahead_adds_its_share_of_the_capacity() -> None:
    assert promise(STORE, at(7, "10:00"), queue_ahead=6).local == at(7, "11:15")


def test_an_order_inside_the_cut_off_starts_at_the_next_opening() -> None:
    made = promise(STORE, at(7, "20:45"))
    assert made.local == at(8, "09:45") and made.text == "tomorrow by 09:45"


def test_work_stops_at_closing_and_goes_on_at_the_next_opening() -> None:
    assert promise(STORE, at(12, "13:40")).local == at(12, "15:25")  # a Saturday's lunch break
    made = promise(STORE, at(12, "17:25"))  # Saturday: 35 minutes before closing, then Monday
    assert made.local == at(14, "09:10") and made.text == "Mon 14 Dec by 09:10"
    made = promise(STORE, at(12, "17:40"))  # inside the cut-off: Monday's opening
    assert made.local == at(14, "09:45")


def test_a_holiday_is_skipped_and_incoming_stock_dates_the_promise() -> None:
    closed = Store("Europe/Oslo", HOURS, holidays={dt.date(2026, 12, 8)})
    assert promise(closed, at(7, "20:45")).local == at(9, "09:45")
    later = promise(STORE, at(7, "10:00"), stock_from=dt.date(2026, 12, 10))
    assert later.local == at(10, "09:45")


def test_a_store_never_open_has_no_promise() -> None:
    with pytest.raises(NoPromise):
        promise(Store("Europe/Oslo", {}), at(7, "10:00"))


def test_opening_hours_are_the_store_s_own_across_a_dst_change() -> None:
    # Oslo moves to summer time on 29 March 2026 (a Sunday): Monday's 09:00 is 07:00 UTC.
    made = promise(STORE, dt.datetime(2026, 3, 28, 17, 0, tzinfo=dt.UTC))  # Sat 18:00 local
    assert made.local == dt.datetime(2026, 3, 30, 9, 45, tzinfo=OSLO)
    assert made.at == dt.datetime(2026, 3, 30, 7, 45, tzinfo=dt.UTC)


def _open_at(local: dt.datetime) -> bool:
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    for opens, closes in HOURS.get(DAYS[local.weekday()], []):
        start = int(opens[:2]) * 3600 + int(opens[3:]) * 60
        end = int(closes[:2]) * 3600 + int(closes[3:]) * 60
        if start <= seconds <= end:
            return True
    return False


moments = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@given(moments, st.integers(0, 40), st.integers(0, 20))
def test_promises_are_inside_opening_hours_and_never_early(
    received: dt.datetime, queue: int, stage_minutes: int
) -> None:
    stage = dt.timedelta(minutes=stage_minutes + 1)
    made = promise(STORE, received, queue_ahead=queue, stage_time=stage)
    assert made.at >= received + stage
    assert _open_at(made.local)
    later = promise(STORE, received + dt.timedelta(minutes=7), queue_ahead=queue, stage_time=stage)
    longer = promise(STORE, received, queue_ahead=queue + 3, stage_time=stage)
    assert later.at >= made.at and longer.at >= made.at
