"""Policy texts, pure: placeholders, typed terms and rendering (orders/policy_text.py)."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.policy_text import (
    AMOUNT_MAX,
    DAYS_MAX,
    HOURS_MAX,
    LIST_ITEMS_MAX,
    TERMS,
    TEXT_LENGTH_MAX,
    Kind,
    Name,
    Refusal,
    Term,
    check,
    placeholders,
    render,
)

RETURNS = {"window_days": 30, "conditions": ["new", "opened"], "damaged_reasons": ["defective"]}
PRICE_MATCH = {"window_days": 14, "max_amount": {"value": "500", "currency": "NOK"}}


def fields(call: Any) -> list[str]:
    with pytest.raises(Refusal) as refused:
        call()
    return [f.field for f in refused.value.flaws]


def test_placeholders_in_order_and_stray_braces_refused() -> None:
    assert placeholders("{a} and {b_2}, {a}") == ["a", "b_2", "a"]
    assert placeholders("no terms") == []
    for text in ("{a", "a}", "{}", "{A}", "{ a }", "{{a}}", "{1a}"):
        assert fields(lambda t=text: placeholders(t)) == ["text"], text


def test_seeded_versions_check_and_render() -> None:
    text = "Return within {window_days}: {conditions}; damaged if {damaged_reasons}."
    terms = {**RETURNS, "damaged_reasons": ["defective", "damaged_in_transit", "wrong_item"]}
    assert check(Name.returns, terms, text) == terms
    assert render(Name.returns, terms, text) == (
        "Return within 30 days: new or opened; damaged if defective, damaged in transit"
        " or wrong item."
    )
    pickup = {"collect_within_hours": 72}
    hold = "We hold it {collect_within_hours}."
    assert render(Name.pickup, check(Name.pickup, pickup, hold), hold) == "We hold it 72 hours."


def test_singular_units_amounts_and_empty_lists() -> None:
    assert render(Name.refunds, {"initiate_within_days": 1}, "{initiate_within_days}") == "1 day"
    assert render(Name.pickup, {"collect_within_hours": 1}, "{collect_within_hours}") == "1 hour"
    normal = check(Name.price_match, PRICE_MATCH, "up to {max_amount}")
    assert normal["max_amount"] == {"value": "500.00", "currency": "NOK"}
    assert render(Name.price_match, normal, "up to {max_amount}") == "up to NOK 500.00"
    empty = {**RETURNS, "damaged_reasons": []}
    assert render(Name.returns, empty, "{damaged_reasons}") == "none"


def test_missing_unknown_and_mistyped_terms_are_named() -> None:
    assert fields(lambda: check(Name.returns, {"window_days": 30}, "x")) == [
        "terms.conditions",
        "terms.damaged_reasons",
    ]
    assert fields(lambda: check(Name.refunds, {"initiate_within_days": 3, "x": 1}, "t")) == [
        "terms.x"
    ]
    for bad in (0, -1, DAYS_MAX + 1, 1.5, "30", True, None):
        terms = {"initiate_within_days": bad}
        assert fields(lambda t=terms: check(Name.refunds, t, "t")) == [
            "terms.initiate_within_days"
        ], bad
    hours = {"collect_within_hours": HOURS_MAX + 1}
    assert fields(lambda: check(Name.pickup, hours, "t")) == ["terms.collect_within_hours"]


def test_list_codes_come_from_their_vocabulary() -> None:
    unknown = {**RETURNS, "conditions": ["new", "shiny"]}
    assert fields(lambda: check(Name.returns, unknown, "t")) == ["terms.conditions[1]"]
    twice = {**RETURNS, "damaged_reasons": ["defective", "defective"]}
    assert fields(lambda: check(Name.returns, twice, "t")) == ["terms.damaged_reasons[1]"]
    long = {**RETURNS, "conditions": ["new"] * (LIST_ITEMS_MAX + 1)}
    assert fields(lambda: check(Name.returns, long, "t")) == ["terms.conditions"]
    assert fields(lambda: check(Name.returns, {**RETURNS, "conditions": "new"}, "t")) == [
        "terms.conditions"
    ]


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        ({"value": "-1"}, "terms.max_amount.value"),
        ({"value": "1.005"}, "terms.max_amount.value"),
        ({"value": str(AMOUNT_MAX + 1)}, "terms.max_amount.value"),
        ({"value": "NaN"}, "terms.max_amount.value"),
        ({"value": "abc"}, "terms.max_amount.value"),
        ({"value": "5", "currency": "kr"}, "terms.max_amount.currency"),
        ({"currency": "NOK"}, "terms.max_amount"),
        ({"value": "5", "extra": 1}, "terms.max_amount"),
        ("500", "terms.max_amount"),
    ],
)
def test_amounts(amount: Any, field: str) -> None:
    terms = {"window_days": 14, "max_amount": amount}
    assert fields(lambda: check(Name.price_match, terms, "t")) == [field]


def test_amount_as_json_number_and_default_currency() -> None:
    normal = check(Name.price_match, {"window_days": 1, "max_amount": {"value": 99.5}}, "t")
    assert normal["max_amount"] == {"value": "99.50", "currency": "NOK"}


def test_text_must_name_only_its_terms() -> None:
    assert fields(lambda: check(Name.pickup, {"collect_within_hours": 2}, "{window_days}")) == [
        "text"
    ]
    bad = (
        "",
        " ",
        "x" * (TEXT_LENGTH_MAX + 1),
        "{collect_within_hours",
        "{collect_within_hours} Hours",
    )
    for text in bad:
        terms = {"collect_within_hours": 2}
        assert fields(lambda t=text, tm=terms: check(Name.pickup, tm, t)) == ["text"]


def _value(term: Term) -> st.SearchStrategy[Any]:
    if term.kind in (Kind.hours, Kind.days):
        return st.integers(term.low, term.high)
    if term.kind is Kind.amount:
        cents = st.integers(0, int(AMOUNT_MAX * 100))
        return cents.map(lambda c: {"value": f"{c // 100}.{c % 100:02d}", "currency": "NOK"})
    codes = sorted(term.choices)
    return st.lists(st.sampled_from(codes), unique=True, max_size=len(codes))


@st.composite
def versions(draw: st.DrawFn) -> tuple[Name, dict[str, Any], str]:
    name = draw(st.sampled_from(list(Name)))
    terms = {key: draw(_value(term)) for key, term in TERMS[name].items()}
    literal = st.text(st.characters(blacklist_characters="{}"), max_size=20)
    parts = draw(st.lists(st.tuples(literal, st.sampled_from(list(TERMS[name]))), max_size=5))
    text = "".join(f"{lit}{{{key}}}." for lit, key in parts) + draw(literal) + "."
    return name, terms, text


@given(versions())
def test_a_valid_version_checks_to_itself_and_renders_every_placeholder(
    version: tuple[Name, dict[str, Any], str],
) -> None:
    name, terms, text = version
    normal = check(name, terms, text)
    assert normal == terms  # already normal: a resubmission compares equal
    assert check(name, normal, text) == normal
    rendered = render(name, normal, text)
    assert "{" not in rendered and "}" not in rendered


@given(versions(), st.text(max_size=30))
def test_check_either_refuses_with_fields_or_renders(
    version: tuple[Name, dict[str, Any], str], noise: str
) -> None:
    name, terms, text = version
    try:
        normal = check(name, terms, text + noise)
    except Refusal as refusal:
        assert refusal.flaws and all(f.field == "text" for f in refusal.flaws)
    else:
        rendered = render(name, normal, text + noise)
        assert "{" not in rendered and "}" not in rendered  # every brace was a placeholder
