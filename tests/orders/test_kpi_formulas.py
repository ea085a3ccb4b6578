"""The KPI definitions and their pure computation (orders/kpi_formulas.py): every KPI
defined once with the documents' formula, medians and ratios on hand-made inputs, a zero
denominator giving null, and properties over any inputs."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders import kpi_formulas as f

MINUTE = dt.timedelta(minutes=1)
T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def test_every_kpi_defined_once_with_the_documents_formula() -> None:
    names = [d.name for d in f.DEFINITIONS]
    assert len(names) == len(set(names)) == 7
    formulas = {d.name: d.formula for d in f.DEFINITIONS}
    assert formulas["pickup_on_time"] == "count(ready_at ≤ promised_at) / count(BOPIS orders)"
    assert formulas["back_in_stock_conversion"] == "orders_from_alerts_48h / alert_sends"
    assert {d.unit for d in f.DEFINITIONS} <= {f.PERCENT, f.MINUTES, f.COUNT}
    assert f.PICKUP_ON_TIME.target == "≥ 95%" and f.STAGE_TIME.target == "≤ 5"


def test_ratio_and_percent_give_null_on_nothing_to_divide() -> None:
    assert f.ratio(0, 0) is None and f.percent(3, 0) is None
    assert f.ratio(1, 4) == 0.25 and f.percent(1, 4) == 25.0


def test_median_of_odd_even_and_none() -> None:
    assert f.median([]) is None
    assert f.median([3, 1, 2]) == 2.0
    assert f.median([4, 1, 3, 2]) == 2.5


def test_pickup_on_time_counts_not_ready_past_promise_as_late() -> None:
    fig = f.pickup_on_time(on_time=3, ready=4, late_not_ready=1)
    assert (fig.value, fig.numerator, fig.denominator) == (60.0, 3, 5)
    assert fig.name == "pickup_on_time" and fig.unit == "percent"
    assert f.pickup_on_time(0, 0, 0).value is None


def test_median_minutes_of_durations() -> None:
    fig = f.median_minutes(f.STAGE_TIME, [3 * MINUTE, 10 * MINUTE, 4 * MINUTE + 30 * MINUTE / 60])
    assert fig.value == 4.5 and fig.samples == 3
    none = f.median_minutes(f.REFUND_LATENCY, [])
    assert none.value is None and none.samples == 0


def test_policy_defects_sum_their_parts() -> None:
    fig = f.policy_defects(surfaces=2, prices=3)
    assert fig.value == 5.0
    assert fig.parts == {"policy_surfaces": 2, "price_mismatches": 3}


def test_first_contact_resolution_null_until_measured() -> None:
    assert f.first_contact_resolution(None).value is None
    assert f.first_contact_resolution((7, 10)).value == 70.0


def test_returning_within_the_window_only() -> None:
    window = dt.timedelta(days=f.REPEAT_WINDOW_DAYS)
    cohort = [
        (T0, None),  # never came back
        (T0, T0 + window),  # on the window's last instant: returning
        (T0, T0 + window + MINUTE),  # too late
        (T0, T0 + dt.timedelta(days=31)),
    ]
    assert f.returning(cohort) == 2
    fig = f.share(f.REPEAT_PURCHASE, f.returning(cohort), len(cohort))
    assert fig.value == 50.0


def test_breakdown_rates_and_revenue() -> None:
    row = f.breakdown(
        location="S1",
        orders=4,
        revenue=Decimal("10.5"),
        returned=1,
        delivered=8,
        oversells=2,
        split=1,
        shipped=0,
    )
    assert row.revenue == "10.50" and row.returns_rate == 12.5
    assert row.split_shipment_rate is None and row.location == "S1" and row.channel is None


def test_share_refuses_negative_counts() -> None:
    with pytest.raises(ValueError):
        f.share(f.BACK_IN_STOCK, -1, 2)


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9), min_size=1))
def test_median_lies_between_min_and_max(values: list[float]) -> None:
    found = f.median(values)
    assert found is not None and min(values) <= found <= max(values)


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_percent_in_range_when_a_part(a: int, b: int) -> None:
    part, whole = min(a, b), max(a, b)
    found = f.percent(part, whole)
    if whole == 0:
        assert found is None
    else:
        assert found is not None and 0 <= found <= 100


@given(st.lists(st.tuples(st.integers(0, 200), st.one_of(st.none(), st.integers(0, 200)))))
def test_returning_never_exceeds_the_cohort(days: list[tuple[int, int | None]]) -> None:
    cohort = [
        (T0, None if later is None else T0 + dt.timedelta(days=first + later))
        for first, later in days
    ]
    assert 0 <= f.returning(cohort) <= len(cohort)
