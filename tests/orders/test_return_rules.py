"""The rules of a return (orders/return_rules.py), without servers: the vocabulary, what may
be returned against what was delivered, eligibility under the policy's terms, where units
go and the refund owed."""

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from orders.return_rules import (
    CONDITIONS,
    REASONS,
    Disposition,
    OrderLine,
    Refusal,
    Refused,
    ReturnLine,
    accepted,
    allocate,
    disposition,
    eligibility,
    judge,
    quantities,
    refunds,
    terms_of,
    total,
    vocabulary,
)

TERMS = terms_of(
    {
        "window_days": 30,
        "conditions": ["new", "opened"],
        "damaged_reasons": ["defective", "damaged_in_transit", "wrong_item"],
    }
)
DELIVERED = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
POLICY = "returns policy v1"
ORDER = [
    OrderLine(1, "A", 3, 0, Decimal("12.50")),
    OrderLine(2, "B", 2, 1, None),
    OrderLine(3, "A", 2, 0, Decimal("10.00")),
]


def line(
    sku: str = "A", qty: int = 1, reason: str = "changed_mind", cond: str = "new"
) -> ReturnLine:
    return ReturnLine(sku, qty, reason, cond)


def kinds(found: list[Refusal]) -> list[Refused]:
    return [r.kind for r in found]


def test_the_vocabulary_is_fixed() -> None:
    assert {
        "changed_mind",
        "wrong_size",
        "defective",
        "damaged_in_transit",
        "wrong_item",
        "not_as_described",
        "late_delivery",
    } == REASONS
    assert {"new", "opened", "damaged"} == CONDITIONS
    found = vocabulary([line(), line(reason="bored", cond="worn")])
    assert [(r.kind, r.field) for r in found] == [
        (Refused.unknown_reason, "lines[1].reason"),
        (Refused.unknown_condition, "lines[1].condition"),
    ]


def test_damaged_units_are_not_sellable() -> None:
    assert disposition("damaged") is Disposition.non_sellable
    assert disposition("new") is disposition("opened") is Disposition.restocked


def test_a_sku_not_on_the_order_is_named() -> None:
    found = quantities([line(), line("Z")], ORDER, {})
    assert [(r.kind, r.field) for r in found] == [(Refused.sku_not_on_order, "lines[1].sku")]


def test_more_than_delivered_less_returned_is_refused_with_the_figures() -> None:
    assert quantities([line("A", 5)], ORDER, {}) == []  # 3 + 2 over two order lines
    found = quantities([line("A", 4), line("A", 2)], ORDER, {})
    assert [(r.kind, r.field) for r in found] == [(Refused.over_return, "lines[1].qty")]
    assert "5 delivered" in found[0].message and "at most 1" in found[0].message
    assert kinds(quantities([line("B", 2)], ORDER, {})) == [Refused.over_return]  # 1 returned
    assert kinds(quantities([line("A", 4)], ORDER, {"A": 2})) == [Refused.over_return]  # pending


def test_the_window_counts_from_delivery() -> None:
    inside = DELIVERED + dt.timedelta(days=30)
    assert eligibility([line()], DELIVERED, inside, TERMS, POLICY) == []
    late = eligibility([line()], DELIVERED, inside + dt.timedelta(seconds=1), TERMS, POLICY)
    assert kinds(late) == [Refused.outside_window] and late[0].field == "lines[0]"
    assert "returns policy v1" in late[0].message
    assert kinds(eligibility([line()], None, inside, TERMS, POLICY)) == [Refused.not_delivered]


def test_damaged_is_taken_back_only_for_the_policy_s_damaged_reasons() -> None:
    assert accepted(line(reason="defective", cond="damaged"), TERMS)
    assert accepted(line(reason="changed_mind", cond="opened"), TERMS)
    assert not accepted(line(reason="changed_mind", cond="damaged"), TERMS)
    found = eligibility([line(cond="damaged")], DELIVERED, DELIVERED, TERMS, POLICY)
    assert [(r.kind, r.field) for r in found] == [
        (Refused.condition_not_accepted, "lines[0].condition")
    ]


def test_a_policy_without_a_condition_refuses_it() -> None:
    strict = terms_of({"window_days": 14, "conditions": ["new"]})
    assert not accepted(line(cond="opened"), strict)
    assert not accepted(line(reason="defective", cond="damaged"), strict)


def test_judge_names_the_wrong_body_before_the_policy() -> None:
    late = DELIVERED + dt.timedelta(days=90)
    bad = [line("Z", reason="bored")]
    assert kinds(judge(bad, ORDER, {}, DELIVERED, late, TERMS, POLICY)) == [Refused.unknown_reason]
    over = [line("A", 9)]
    assert kinds(judge(over, ORDER, {}, DELIVERED, late, TERMS, POLICY)) == [Refused.over_return]
    fine = [line("A", 1)]
    assert kinds(judge(fine, ORDER, {}, DELIVERED, late, TERMS, POLICY)) == [Refused.outside_window]
    assert judge(fine, ORDER, {}, DELIVERED, DELIVERED, TERMS, POLICY) == []


def test_refunds_follow_the_lines_they_take() -> None:
    amounts = refunds([line("A", 2), line("A", 2)], ORDER, {})
    assert amounts == [Decimal("25.00"), Decimal("22.50")]  # 12.50 x 2, then 12.50 + 10.00
    assert total(amounts) == Decimal("47.50")
    assert refunds([line("A", 1)], ORDER, {"A": 3}) == [Decimal("10.00")]  # after pending ones
    assert refunds([line("B", 1)], ORDER, {}) == [None]
    assert total([Decimal(1), None]) is None


def test_allocate_skips_returned_and_claimed_units() -> None:
    assert allocate(ORDER, "A", 4) == [(1, 3), (3, 1)]
    assert allocate(ORDER, "A", 2, skip=2) == [(1, 1), (3, 1)]
    assert allocate(ORDER, "B", 1) == [(2, 1)]


order_lines = st.lists(
    st.tuples(st.sampled_from("AB"), st.integers(0, 5), st.integers(0, 5)), max_size=5
).map(
    lambda rows: [
        OrderLine(i, sku, delivered, min(returned, delivered), Decimal("1.00"))
        for i, (sku, delivered, returned) in enumerate(rows, 1)
    ]
)


@given(order_lines, st.lists(st.tuples(st.sampled_from("AB"), st.integers(1, 6)), max_size=4))
def test_an_accepted_return_never_takes_more_than_is_left(
    order: list[OrderLine], asked: list[tuple[str, int]]
) -> None:
    lines = [line(sku, qty) for sku, qty in asked]
    refused = quantities(lines, order, {})
    left = {s: sum(o.delivered - o.returned for o in order if o.sku == s) for s in "AB"}
    wanted = {s: sum(q for k, q in asked if k == s) for s in "AB"}
    on_order = {o.sku for o in order}
    fits = all(wanted[s] <= left[s] for s in "AB") and {k for k, _ in asked} <= on_order
    assert (refused == []) == fits
    if fits:  # every accepted unit lands on an order line with room, priced
        for sku in "AB":
            taken = allocate(order, sku, wanted[sku])
            assert sum(n for _, n in taken) == wanted[sku]
            room = {o.line_no: o.delivered - o.returned for o in order}
            assert all(0 < n <= room[no] for no, n in taken)
        assert total(refunds(lines, order, {})) == Decimal(sum(wanted.values()))
