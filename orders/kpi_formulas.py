"""Every KPI of issue 15 defined in one place: its name, the formula as the documents give
it (shared/context/commerce.md, "KPIs"), its target and unit, exactly which rows count
(the readings below), and the pure computation from plain inputs. orders/kpis.py gathers
the inputs with SQL; nothing here does I/O.

Readings of the documents' formulas (the period is ``[from, to)``):

- pickup on-time %: BOPIS orders (methods pickup and curbside) received in the period
  (``order_received_at``) with a promise, neither cancelled, expired nor pending. One that
  became ready counts on time when ``ready_at <= promised_at``; one not ready yet whose
  promise has passed (at the time asked) counts **late**; one not ready whose promise is
  still ahead is not counted (its outcome is unknown).
- stage time: single-item BOPIS orders only, that is one order line of quantity 1, received
  in the period and staged: the median of ``staged_at - order_received_at``, minutes.
- refund initiation latency: returns received in the period (``return_received_at``) whose
  refund was initiated: the median of ``refund_initiated_at - return_received_at``, minutes.
- first-contact resolution: support tickets (orders/support.py), filled by the caller.
- back-in-stock conversion: alert sends in the period (``sent_at``); orders_from_alerts_48h
  are the alert_conversions of those sends (each order counted once, within 48 h).
- policy consistency defects: surfaces showing another version than the policy in force
  (orders/policies.py ``audit``, as of now) plus sales recorded at another price than the
  one in force in the period (orders/prices.py ``mismatches``).
- repeat purchase rate: the cohort is the customers whose first order ever was received in
  the period; a returning customer placed a second order within REPEAT_WINDOW_DAYS (the
  documents' 30-60 day cohort, read as its upper end) of the first. Cancelled, expired and
  pending orders are not purchases. A register sale carrying a customer is a purchase
  too (at its ``occurred_at``, on the store channel at its store); a voided one is not.
- per store and channel: orders placed in the period (not cancelled, expired or pending),
  and register sales sold in it (``occurred_at``) at a recorded price, not voided, each
  one sale on the store channel at its store (a register sends one event per line, so a
  basket of three SKUs counts three);
  revenue = sum(qty * unit_price) of their lines; returns rate = returned units / delivered
  units of those orders (register sales and returns in neither: a register return names
  no sale); oversells = register sales that oversold (the journal's
  ``oversold`` rose) in the period; split-shipment rate = orders with more than one planned
  shipment location / orders shipped (partially or wholly).
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import msgspec

REPEAT_WINDOW_DAYS: Final = 60  # a second order within this of the first: returning
ALERT_WINDOW_HOURS: Final = 48  # an order within this of an alert send converts it
PERCENT: Final = "percent"
MINUTES: Final = "minutes"
COUNT: Final = "count"


@dataclass(frozen=True)
class Definition:
    name: str
    formula: str  # as the documents give it
    target: str
    unit: str


PICKUP_ON_TIME = Definition(
    "pickup_on_time",
    "count(ready_at ≤ promised_at) / count(BOPIS orders)",
    "≥ 95%",
    PERCENT,
)
STAGE_TIME = Definition(
    "stage_time",
    "median(staged_at - order_received_at), single-item BOPIS, minutes",
    "≤ 5",
    MINUTES,
)
REFUND_LATENCY = Definition(
    "refund_initiation_latency",
    "median(refund_initiated_at - return_received_at), minutes",
    "≤ 1,440",
    MINUTES,
)
FIRST_CONTACT_RESOLUTION = Definition(
    "first_contact_resolution",
    "single_reply_tickets / total_order_tickets",
    "≥ 70-80%",
    PERCENT,
)
BACK_IN_STOCK = Definition(
    "back_in_stock_conversion",
    "orders_from_alerts_48h / alert_sends",
    "10-25%",
    PERCENT,
)
POLICY_DEFECTS = Definition(
    "policy_consistency_defects",
    "mismatches between site, emails, receipts",
    "0",
    COUNT,
)
REPEAT_PURCHASE = Definition(
    "repeat_purchase_rate",
    "returning_customers / total_customers, 30-60 day cohort",
    "rising",
    PERCENT,
)
DEFINITIONS: Final = (
    PICKUP_ON_TIME,
    STAGE_TIME,
    REFUND_LATENCY,
    FIRST_CONTACT_RESOLUTION,
    BACK_IN_STOCK,
    POLICY_DEFECTS,
    REPEAT_PURCHASE,
)
# The per store and per channel figures (not KPIs with targets, the documents' breakdowns).
RETURNS_RATE_FORMULA: Final = "returned units / delivered units"
SPLIT_SHIPMENT_FORMULA: Final = "orders with > 1 planned shipment location / orders shipped"
REVENUE_FORMULA: Final = (
    "sum(qty * unit_price) of orders placed, not cancelled or expired, and of priced "
    "register sales, not voided"
)


class Figure(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One KPI's answer: null value when there is nothing to measure (no denominator)."""

    name: str
    value: float | None
    unit: str
    target: str
    formula: str
    numerator: int | None = None
    denominator: int | None = None
    samples: int | None = None  # how many durations a median was taken over
    parts: dict[str, int] | None = None  # a sum's terms


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator; None (not 0) when there is nothing to divide by."""
    return None if denominator == 0 else numerator / denominator


def percent(numerator: int, denominator: int) -> float | None:
    found = ratio(numerator, denominator)
    return None if found is None else 100 * found


def median(values: Sequence[float]) -> float | None:
    return None if not values else float(statistics.median(values))


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _of(
    d: Definition,
    value: float | None,
    *,
    numerator: int | None = None,
    denominator: int | None = None,
    samples: int | None = None,
    parts: dict[str, int] | None = None,
) -> Figure:
    return Figure(
        name=d.name,
        value=value,
        unit=d.unit,
        target=d.target,
        formula=d.formula,
        numerator=numerator,
        denominator=denominator,
        samples=samples,
        parts=parts,
    )


def share(d: Definition, numerator: int, denominator: int) -> Figure:
    """A percentage KPI from its counts (above 100 is possible where one send converts
    twice)."""
    if numerator < 0 or denominator < 0:
        raise ValueError(f"{d.name}: {numerator} of {denominator}")
    return _of(d, percent(numerator, denominator), numerator=numerator, denominator=denominator)


def median_minutes(d: Definition, durations: Sequence[timedelta]) -> Figure:
    """A median-duration KPI from the durations measured."""
    return _of(d, median([minutes(x) for x in durations]), samples=len(durations))


def pickup_on_time(on_time: int, ready: int, late_not_ready: int) -> Figure:
    """on time among the orders that became ready, plus those not ready past their promise
    (late)."""
    return share(PICKUP_ON_TIME, on_time, ready + late_not_ready)


def policy_defects(surfaces: int, prices: int) -> Figure:
    return _of(
        POLICY_DEFECTS,
        float(surfaces + prices),
        parts={"policy_surfaces": surfaces, "price_mismatches": prices},
    )


def first_contact_resolution(counts: tuple[int, int] | None) -> Figure:
    """(single_reply_tickets, total_order_tickets), or None while not measured here."""
    if counts is None:
        return _of(FIRST_CONTACT_RESOLUTION, None)
    return share(FIRST_CONTACT_RESOLUTION, *counts)


def returning(first_orders_and_next: Sequence[tuple[datetime, datetime | None]]) -> int:
    """How many of a cohort's (first order time, next order time or None) came back within
    REPEAT_WINDOW_DAYS."""
    window = timedelta(days=REPEAT_WINDOW_DAYS)
    count = 0
    for first, second in first_orders_and_next:
        if second is not None and second - first <= window:
            count += 1
    return count


class Breakdown(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The per store (``location``) or per channel (``channel``) figures."""

    location: str | None = None
    channel: str | None = None
    orders: int
    revenue: str  # decimal, exact
    returns_rate: float | None  # percent: returned units / delivered units
    oversells: int
    split_shipment_rate: float | None  # percent: split orders / orders shipped


def breakdown(
    *,
    location: str | None = None,
    channel: str | None = None,
    orders: int,
    revenue: Decimal,
    returned: int,
    delivered: int,
    oversells: int,
    split: int,
    shipped: int,
) -> Breakdown:
    return Breakdown(
        location=location,
        channel=channel,
        orders=orders,
        revenue=str(revenue.quantize(Decimal("0.01"))),
        returns_rate=percent(returned, delivered),
        oversells=oversells,
        split_shipment_rate=percent(split, shipped),
    )
