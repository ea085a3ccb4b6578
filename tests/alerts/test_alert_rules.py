"""The pure rules: one spelling per contact, consent, and who is told what for the stock
there is (held to atp.rules.promise_date for incoming supply)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts import rules
from alerts.rules import LocationStock, Window, units_now, windows
from atp.model import Channel, InvalidInput, Position, Supply
from atp.rules import promise_date

TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


def _field(call: object, *args: object) -> str:
    with pytest.raises(InvalidInput) as refused:
        call(*args)  # type: ignore[operator]
    return refused.value.field


@pytest.mark.parametrize(
    "typed", ["kari@example.no", " Kari@Example.NO ", "KARI@EXAMPLE.NO\t", "\nkari@example.no"]
)
def test_emails_differing_in_case_and_whitespace_are_one(typed: str) -> None:
    assert rules.email(typed) == "kari@example.no"


@pytest.mark.parametrize("typed", ["", "kari", "kari@", "@example.no", "ka ri@example.no", "k@x"])
def test_what_is_not_an_email_is_refused_naming_the_field(typed: str) -> None:
    assert _field(rules.email, typed) == "contact.email"


@pytest.mark.parametrize(
    "typed",
    ["+47 912 34 567", "+4791234567", "0047 912-34-567", "+47 (912) 34.567", " +47912 34567"],
)
def test_phones_are_plus_and_digits(typed: str) -> None:
    assert rules.phone(typed) == "+4791234567"


@pytest.mark.parametrize(
    "typed", ["912 34 567", "+47 912 34 56x", "+0 123 4567", "+12", "+" + "1" * 16]
)
def test_a_phone_without_country_code_or_out_of_bounds_is_refused(typed: str) -> None:
    assert _field(rules.phone, typed) == "contact.phone"


def test_a_contact_is_exactly_one_of_email_and_phone() -> None:
    assert rules.contact(" A@B.no", None) == ("email", "a@b.no")
    assert rules.contact(None, "+47 912 34 567") == ("phone", "+4791234567")
    assert _field(rules.contact, None, None) == "contact"
    assert _field(rules.contact, "a@b.no", "+4791234567") == "contact"


def test_no_alert_without_consent_given() -> None:
    rules.check_consent(True, NOW - timedelta(days=1), NOW)
    assert _field(rules.check_consent, False, NOW, NOW) == "consent.given"
    assert _field(rules.check_consent, True, NOW + timedelta(hours=1), NOW) == "consent.at"
    assert _field(rules.check_consent, True, datetime(2026, 12, 3), NOW) == "consent.at"


def test_a_scope_is_one_of_location_and_group() -> None:
    rules.check_scope("OSLO-1", None)
    rules.check_scope(None, "oslo")
    assert _field(rules.check_scope, None, None) == "location"
    assert _field(rules.check_scope, "OSLO-1", "oslo") == "location"


def test_window_texts() -> None:
    assert Window("now", "OSLO-1", "Oslo Sentrum", TODAY, 1).text == "in stock at Oslo Sentrum now"
    later = Window("incoming", "OSLO-1", "Oslo Sentrum", date(2026, 12, 5), 2)
    assert later.text == "expected in stock at Oslo Sentrum by Sat 5 Dec 2026"


def test_each_unit_tells_per_unit_subscribers_then_incoming_with_its_date() -> None:
    stock = [
        LocationStock("B", "Bergen", 1),
        LocationStock("A", "Oslo Sentrum", 2, ((date(2026, 12, 7), 1), (date(2026, 12, 5), 1))),
    ]
    got = windows(stock, per_unit=2, today=TODAY, horizon_days=14, skip=0, limit=100)
    assert [(w.kind, w.location, w.day, w.unit) for w in got] == [
        ("now", "A", TODAY, 1),
        ("now", "A", TODAY, 1),
        ("now", "A", TODAY, 2),
        ("now", "A", TODAY, 2),
        ("now", "B", TODAY, 3),
        ("now", "B", TODAY, 3),
        ("incoming", "A", date(2026, 12, 5), 4),
        ("incoming", "A", date(2026, 12, 5), 4),
        ("incoming", "A", date(2026, 12, 7), 5),
        ("incoming", "A", date(2026, 12, 7), 5),
    ]


def test_nothing_there_now_tells_nobody_whatever_is_incoming() -> None:
    stock = [LocationStock("A", "A", 0, ((TODAY + timedelta(days=1), 50),))]
    assert windows(stock, 3, TODAY, 14, 0, 100) == []
    assert windows([LocationStock("A", "A", -2)], 3, TODAY, 14, 0, 100) == []


def test_supply_beyond_the_horizon_tells_nobody() -> None:
    stock = [LocationStock("A", "A", 1, ((TODAY + timedelta(days=15), 50),))]
    assert [w.kind for w in windows(stock, 1, TODAY, 14, 0, 100)] == ["now"]


_stock = st.lists(
    st.builds(
        LocationStock,
        st.sampled_from(["A", "B", "C", "D"]),
        st.just("name"),
        st.integers(-5, 6),
        st.lists(
            st.tuples(
                st.dates(TODAY - timedelta(days=3), TODAY + timedelta(days=20)), st.integers(1, 4)
            ),
            max_size=3,
        ).map(tuple),
    ),
    max_size=4,
    unique_by=lambda s: s.location,
)


@given(_stock, st.integers(1, 4), st.integers(0, 30), st.integers(0, 40))
def test_windows_follow_units_and_promise_dates(
    stock: list[LocationStock], per_unit: int, skip: int, limit: int
) -> None:
    every = windows(stock, per_unit, TODAY, 14, 0, 500)
    # Oldest first: subscriber k rests on unit k // per_unit + 1.
    assert [w.unit for w in every] == [k // per_unit + 1 for k in range(len(every))]
    now = [w for w in every if w.kind == "now"]
    assert len(now) == per_unit * units_now(stock)
    if not now:
        assert every == []
    rows = [
        (Position("S", s.location, s.available), [Supply("p", q, d) for d, q in s.arrivals])
        for s in stock
    ]
    for w in every:
        assert promise_date(rows, w.unit, Channel.online, TODAY) == w.day
        assert w.day <= TODAY + timedelta(days=14)
    if now:  # every unit the horizon promises is used
        last = every[-1].unit if every else 0
        assert promise_date(rows, last + 1, Channel.online, TODAY) in (
            None,
            *(TODAY + timedelta(days=d) for d in range(15, 40)),
        )
    # A pass that skips those already told gets the same windows as one long pass.
    assert windows(stock, per_unit, TODAY, 14, skip, limit) == every[skip : skip + limit]
