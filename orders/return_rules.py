"""The rules of a return, pure (no I/O): the fixed vocabulary of reasons and conditions,
what a line may return against what was delivered, eligibility against the returns
policy's terms (window, condition), where each unit goes, the refund owed, and what a
return is (its request, its recorded form, its refusals).

orders/returns.py applies what these decide; tests/orders/test_return_rules.py checks them
without servers.
"""

import datetime
import enum
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec

RETURN_LINES_MAX: Final = 50  # lines of one return
DAMAGED: Final = "damaged"  # the one condition that is never sellable


class ReturnReason(enum.StrEnum):
    changed_mind = "changed_mind"
    wrong_size = "wrong_size"
    defective = "defective"
    damaged_in_transit = "damaged_in_transit"
    wrong_item = "wrong_item"
    not_as_described = "not_as_described"
    late_delivery = "late_delivery"


class Condition(enum.StrEnum):
    new = "new"
    opened = "opened"
    damaged = DAMAGED


REASONS: Final = frozenset(r.value for r in ReturnReason)
CONDITIONS: Final = frozenset(c.value for c in Condition)


class Disposition(enum.StrEnum):
    restocked = "restocked"  # back on hand where it landed
    non_sellable = "non_sellable"  # counted apart, never sold


class Refused(enum.StrEnum):
    """Why a return is refused; the API maps each to a status (api/routes_returns.py)."""

    unknown_reason = "unknown_reason"
    unknown_condition = "unknown_condition"
    sku_not_on_order = "sku_not_on_order"
    over_return = "over_return"  # more than delivered minus already returned
    not_delivered = "not_delivered"  # the order was neither shipped nor picked up
    outside_window = "outside_window"
    condition_not_accepted = "condition_not_accepted"


class Refusal(msgspec.Struct, frozen=True):
    kind: Refused
    field: str  # the body's field, e.g. lines[1].qty
    message: str


class Terms(msgspec.Struct, frozen=True):
    """A returns policy's terms (policies.terms): what it accepts and for how long."""

    window_days: int
    conditions: frozenset[str]  # accepted as sellable whatever the reason
    damaged_reasons: frozenset[str]  # damaged is accepted only for these


class ReturnLine(msgspec.Struct, frozen=True):
    sku: str
    qty: int
    reason: str
    condition: str


class OrderLine(msgspec.Struct, frozen=True):
    line_no: int
    sku: str
    delivered: int
    returned: int
    unit_price: Decimal | None


class ReturnRequest(msgspec.Struct, frozen=True):
    id: str
    order_id: str
    location: str
    lines: list[ReturnLine]


class ReturnedLine(msgspec.Struct, frozen=True):
    sku: str
    qty: int
    reason: str
    condition: str
    disposition: Disposition
    refund_amount: Decimal | None  # unit price x qty; null when the order had no price


class PolicyRef(msgspec.Struct, frozen=True):
    name: str
    version: int


class Return(msgspec.Struct, frozen=True):
    id: str
    order_id: str
    location: str
    state: str  # pending (being received), received, refund_initiated
    lines: list[ReturnedLine]
    policy: PolicyRef  # the version this return was judged by
    refund_amount: Decimal | None  # owed for the whole return; null if a price is unknown
    return_received_at: datetime.datetime | None
    refund_initiated_at: datetime.datetime | None
    created_by: str


class OrderNotFound(LookupError):
    pass


class ReturnNotFound(LookupError):
    pass


class IdReused(Exception):
    """The return id exists with another body."""


class ReturnRefused(Exception):
    def __init__(self, refusals: list[Refusal], policy: PolicyRef) -> None:
        super().__init__(refusals[0].message)
        self.refusals = refusals
        self.policy = policy


def terms_of(terms: Mapping[str, Any]) -> Terms:
    return Terms(
        int(terms["window_days"]),
        frozenset(terms.get("conditions", ())),
        frozenset(terms.get("damaged_reasons", ())),
    )


def disposition(condition: str) -> Disposition:
    return Disposition.non_sellable if condition == DAMAGED else Disposition.restocked


def vocabulary(lines: Sequence[ReturnLine]) -> list[Refusal]:
    """Reasons and conditions outside the fixed vocabulary (a 422: the body is wrong)."""
    out: list[Refusal] = []
    reasons = ", ".join(ReturnReason)
    conditions = ", ".join(Condition)
    for i, ln in enumerate(lines):
        if ln.reason not in REASONS:
            out.append(Refusal(Refused.unknown_reason, f"lines[{i}].reason", f"must be {reasons}"))
        if ln.condition not in CONDITIONS:
            message = f"must be {conditions}"
            out.append(Refusal(Refused.unknown_condition, f"lines[{i}].condition", message))
    return out


def quantities(
    lines: Sequence[ReturnLine], order: Sequence[OrderLine], pending: Mapping[str, int]
) -> list[Refusal]:
    """SKUs not on the order, and lines taking more than delivered minus already returned
    (``pending``: units of each SKU that returns begun but not yet recorded will take)."""
    out: list[Refusal] = []
    skus = {ln.sku for ln in order}
    taken: dict[str, int] = {}
    for i, ln in enumerate(lines):
        if ln.sku not in skus:
            out.append(Refusal(Refused.sku_not_on_order, f"lines[{i}].sku", "is not on the order"))
            continue
        delivered = sum(o.delivered for o in order if o.sku == ln.sku)
        returned = sum(o.returned for o in order if o.sku == ln.sku) + pending.get(ln.sku, 0)
        before = taken.get(ln.sku, 0)
        taken[ln.sku] = before + ln.qty
        left = max(0, delivered - returned - before)
        if ln.qty > left:
            message = (
                f"{ln.qty} asked of {ln.sku}: {delivered} delivered, {returned} already "
                f"returned or being returned, {before} on earlier lines; at most {left}"
            )
            out.append(Refusal(Refused.over_return, f"lines[{i}].qty", message))
    return out


def eligibility(
    lines: Sequence[ReturnLine],
    delivered_at: datetime.datetime | None,
    now: datetime.datetime,
    terms: Terms,
    policy: str,
) -> list[Refusal]:
    """Lines the policy does not accept: outside its window (counted from delivery), or in
    a condition it does not take for that reason. ``policy`` names it (e.g. returns v1)."""
    if delivered_at is None:
        return [Refusal(Refused.not_delivered, "order_id", "nothing was delivered to return")]
    closes = delivered_at + datetime.timedelta(days=terms.window_days)
    out: list[Refusal] = []
    for i, ln in enumerate(lines):
        if now > closes:
            message = (
                f"the {policy} window of {terms.window_days} days from delivery "
                f"({delivered_at.isoformat()}) closed at {closes.isoformat()}"
            )
            out.append(Refusal(Refused.outside_window, f"lines[{i}]", message))
        elif not accepted(ln, terms):
            message = f"{policy} does not accept {ln.condition} for {ln.reason}"
            out.append(Refusal(Refused.condition_not_accepted, f"lines[{i}].condition", message))
    return out


def accepted(line: ReturnLine, terms: Terms) -> bool:
    if line.condition == DAMAGED:
        return line.reason in terms.damaged_reasons
    return line.condition in terms.conditions


def judge(
    lines: Sequence[ReturnLine],
    order: Sequence[OrderLine],
    pending: Mapping[str, int],
    delivered_at: datetime.datetime | None,
    now: datetime.datetime,
    terms: Terms,
    policy: str,
) -> list[Refusal]:
    """Every refusal of the first group that has one: vocabulary, then quantities, then
    eligibility (a wrong body is named before what the order or policy says of it)."""
    for found in (
        vocabulary(lines),
        quantities(lines, order, pending),
        eligibility(lines, delivered_at, now, terms, policy),
    ):
        if found:
            return found
    return []


def allocate(
    order: Sequence[OrderLine], sku: str, qty: int, skip: int = 0
) -> list[tuple[int, int]]:
    """(line_no, units) taking ``qty`` returnable units of ``sku`` from the order's lines in
    line order, after the first ``skip`` returnable ones (claimed by earlier returns)."""
    out: list[tuple[int, int]] = []
    for o in sorted(order, key=lambda o: o.line_no):
        if o.sku != sku or qty == 0:
            continue
        free = o.delivered - o.returned
        passed = min(free, skip)
        skip -= passed
        take = min(free - passed, qty)
        if take > 0:
            out.append((o.line_no, take))
            qty -= take
    assert qty == 0, "allocated beyond what quantities() allowed"
    return out


def refunds(
    lines: Sequence[ReturnLine], order: Sequence[OrderLine], pending: Mapping[str, int]
) -> list[Decimal | None]:
    """Each line's refund: its units' unit prices (null when a price is unknown)."""
    prices = {o.line_no: o.unit_price for o in order}
    claimed = dict(pending)
    out: list[Decimal | None] = []
    for ln in lines:
        taken = allocate(order, ln.sku, ln.qty, claimed.get(ln.sku, 0))
        claimed[ln.sku] = claimed.get(ln.sku, 0) + ln.qty
        amount: Decimal | None = Decimal(0)
        for no, units in taken:
            price = prices[no]
            amount = None if amount is None or price is None else amount + price * units
        out.append(amount)
    return out


def total(amounts: Iterable[Decimal | None]) -> Decimal | None:
    """The refund owed: null when any line's price is unknown."""
    found = list(amounts)
    if any(a is None for a in found):
        return None
    return sum((a for a in found if a is not None), Decimal(0))
