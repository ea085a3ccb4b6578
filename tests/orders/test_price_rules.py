"""Which price applies at an instant, and what a price may be (orders/price_rules.py)."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.price_rules import MONEY_MAX, Refusal, Terms, check, matches, same_currency

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _fields(exc: pytest.ExceptionInfo[Refusal]) -> list[str]:
    return [f.field for f in exc.value.flaws]


def test_list_price_without_promotion() -> None:
    terms = check("249", "NOK")
    assert terms == Terms(Decimal("249.00"), "NOK")
    assert terms.price_at(T0) == Decimal("249.00")
    assert terms.promotion_at(T0) is None


def test_promotion_applies_within_from_inclusive_to_exclusive() -> None:
    terms = check("249.00", "NOK", ("199.50", T0, T0 + HOUR))
    assert terms.price_at(T0 - dt.timedelta(microseconds=1)) == Decimal("249.00")
    assert terms.price_at(T0) == Decimal("199.50")
    assert terms.promotion_at(T0) is not None
    assert terms.price_at(T0 + HOUR - dt.timedelta(microseconds=1)) == Decimal("199.50")
    assert terms.price_at(T0 + HOUR) == Decimal("249.00")
    assert terms.promotion_at(T0 + HOUR) is None


def test_offsets_compare_as_instants() -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    terms = check("10", "EUR", ("5", T0.astimezone(oslo), T0 + HOUR))
    assert terms.price_at(T0) == Decimal("5.00")
    assert terms == check("10.00", "EUR", ("5.0", T0, (T0 + HOUR).astimezone(oslo)))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("-1", "list_price"),
        ("1.005", "list_price"),
        ("NaN", "list_price"),
        ("Infinity", "list_price"),
        ("abc", "list_price"),
        (str(MONEY_MAX + 1), "list_price"),
    ],
)
def test_bad_money(raw: str, field: str) -> None:
    with pytest.raises(Refusal) as exc:
        check(raw, "NOK")
    assert _fields(exc) == [field]


def test_money_keeps_two_places() -> None:
    assert check("1.50", "NOK").list_price == Decimal("1.5")
    assert str(check("1.5", "NOK").list_price) == "1.50"
    assert check(str(MONEY_MAX), "NOK").list_price == MONEY_MAX
    assert check("0", "NOK").list_price == 0


@pytest.mark.parametrize("code", ["nok", "NO", "NOKK", "N0K", "", "ÆØÅ"])
def test_bad_currency(code: str) -> None:
    with pytest.raises(Refusal) as exc:
        check("1", code)
    assert _fields(exc) == ["currency"]


def test_promotion_above_list_and_empty_window_refused_with_every_field() -> None:
    with pytest.raises(Refusal) as exc:
        check("100", "NOK", ("101", T0, T0))
    assert _fields(exc) == ["promotion.price", "promotion.to"]
    with pytest.raises(Refusal) as exc:
        check("100", "NOK", ("50", T0, T0 - HOUR))
    assert _fields(exc) == ["promotion.to"]
    assert check("100", "NOK", ("100", T0, T0 + HOUR)).price_at(T0) == Decimal("100.00")


def test_naive_times_refused() -> None:
    with pytest.raises(Refusal) as exc:
        check("100", "NOK", ("50", T0.replace(tzinfo=None), T0 + HOUR))
    assert _fields(exc) == ["promotion.from"]


def test_instants_far_from_the_calendar_ends() -> None:
    far = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with pytest.raises(Refusal) as exc:
        check("100", "NOK", ("50", far, T0))
    assert _fields(exc) == ["promotion.from"]
    with pytest.raises(Refusal) as exc:
        check("100", "NOK", ("50", T0, dt.datetime.max.replace(tzinfo=dt.UTC)))
    assert _fields(exc) == ["promotion.to"]


def test_same_currency_and_matches() -> None:
    terms = check("10", "NOK")
    same_currency(terms, None)
    same_currency(terms, "NOK")
    with pytest.raises(Refusal) as exc:
        same_currency(terms, "SEK")
    assert _fields(exc) == ["currency"]
    assert matches(Decimal("10.00"), "NOK", Decimal("10"), "NOK")
    assert not matches(Decimal("10.00"), "SEK", Decimal("10"), "NOK")
    assert not matches(Decimal("9.99"), "NOK", Decimal("10"), "NOK")


_CENTS = st.integers(min_value=0, max_value=10**12 - 1)
_OFFSETS = st.integers(min_value=-(10**6), max_value=10**6)


@given(_CENTS, _CENTS, _OFFSETS, st.integers(min_value=1, max_value=10**6), _OFFSETS)
def test_price_at_is_promotion_exactly_within_window(
    a: int, b: int, start_s: int, length_s: int, at_s: int
) -> None:
    listed, promo = Decimal(max(a, b)).scaleb(-2), Decimal(min(a, b)).scaleb(-2)
    start = T0 + dt.timedelta(seconds=start_s)
    end = start + dt.timedelta(seconds=length_s)
    at = T0 + dt.timedelta(seconds=at_s)
    terms = check(listed, "NOK", (promo, start, end))
    inside = start <= at < end
    assert terms.price_at(at) == (promo if inside else listed)
    assert (terms.promotion_at(at) is not None) == inside
    assert terms.price_at(at) <= terms.list_price


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_money_is_exact_or_refused(raw: Decimal) -> None:
    try:
        terms = check(raw, "NOK")
    except Refusal as refusal:
        assert _fields_of(refusal) == ["list_price"]
    else:
        assert terms.list_price == raw
        assert 0 <= terms.list_price <= MONEY_MAX
        assert terms.list_price.as_tuple().exponent == -2


def _fields_of(refusal: Refusal) -> list[str]:
    return [f.field for f in refusal.flaws]
