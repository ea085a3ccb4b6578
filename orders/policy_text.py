"""Policy texts and their typed terms, pure (no I/O): the fixed vocabulary of policies,
the type each declares for its terms, checking a new version, and rendering its text.

A policy's text carries placeholders, ``{window_days}``, each naming one of its terms;
rendering fills them in, typed: hours ``72 hours``, days ``30 days`` (``1 day``), an
amount ``NOK 500.00``, a list ``new or opened`` (codes with their underscores as spaces).
A brace that opens no placeholder is refused rather than printed, so a typo such as
``{window_day}`` or ``{window_days`` never reaches a customer; so is an hours or days
placeholder followed by its unit word (``{window_days} days`` would read "30 days days").

The types, and what a version's terms must be:

- hours, days: whole numbers within the term's named bounds (JSON integers, never 1.5);
- amount: ``{"value": "500.00", "currency": "NOK"}``: a decimal 0 or more with at most
  two decimals (a string, or a JSON number), an ISO 4217 style currency code (default
  ``DEFAULT_CURRENCY``, the retailer's);
- list: distinct codes from the term's vocabulary (the return rules' conditions and
  reasons), at most ``LIST_ITEMS_MAX``; empty renders ``none``.

Every term the policy declares is required and no other is accepted, so a text and the
rules judged by it (orders/returns.py, orders/recovery.py read the same terms) always
agree. ``check`` answers the terms normalised (amounts as two-decimal strings), so an
equal resubmission compares equal to what is stored.
"""

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from orders.return_rules import CONDITIONS, REASONS

TEXT_LENGTH_MAX: Final = 4000  # characters of a policy's text (a site snippet, a macro)
LIST_ITEMS_MAX: Final = 20
HOURS_MAX: Final = 24 * 30  # a pickup window of a month at most
DAYS_MAX: Final = 365
AMOUNT_MAX: Final = Decimal("1000000")  # a price-match cap beyond this is a typo
AMOUNT_DECIMALS: Final = 2
DEFAULT_CURRENCY: Final = "NOK"


class Name(enum.StrEnum):
    pickup = "pickup"
    refunds = "refunds"
    returns = "returns"
    price_match = "price_match"


class Kind(enum.StrEnum):
    hours = "hours"
    days = "days"
    amount = "amount"
    list = "list"


@dataclass(frozen=True)
class Term:
    kind: Kind
    low: int = 1  # hours, days: the bounds, inclusive
    high: int = 0
    choices: frozenset[str] = frozenset()  # list: its vocabulary


def _hours(low: int = 1) -> Term:
    return Term(Kind.hours, low, HOURS_MAX)


def _days(low: int = 1) -> Term:
    return Term(Kind.days, low, DAYS_MAX)


# Each policy's terms and their types. returns and pickup are read by the order service.
TERMS: Final[Mapping[Name, Mapping[str, Term]]] = {
    Name.pickup: {"collect_within_hours": _hours()},
    Name.refunds: {"initiate_within_days": _days()},
    Name.returns: {
        "window_days": _days(),
        "conditions": Term(Kind.list, choices=CONDITIONS),
        "damaged_reasons": Term(Kind.list, choices=REASONS),
    },
    Name.price_match: {"window_days": _days(), "max_amount": Term(Kind.amount)},
}

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# "{window_days} days" would read "30 days days": hours and days render with their unit.
_UNIT_AFTER = re.compile(r"\{([a-z][a-z0-9_]*)\}\s+(hours?|days?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Flaw:
    field: str  # the body's field: text, terms.window_days, terms.max_amount.value
    message: str


class Refusal(Exception):
    """A version that may not be saved; ``flaws`` names each field, the first first."""

    def __init__(self, flaws: list[Flaw]) -> None:
        super().__init__("; ".join(f"{f.field}: {f.message}" for f in flaws))
        self.flaws = flaws


def placeholders(text: str) -> list[str]:
    """The terms ``text`` names, in order; raises ``Refusal`` on a brace opening none."""
    names: list[str] = []
    at = 0
    for match in _PLACEHOLDER.finditer(text):
        _literal(text, at, match.start())
        names.append(match.group(1))
        at = match.end()
    _literal(text, at, len(text))
    return names


def _literal(text: str, start: int, end: int) -> None:
    for i in range(start, end):
        if text[i] in "{}":
            raise Refusal(
                [Flaw("text", f"the brace at character {i} opens no {{term}} placeholder")]
            )


def _whole(field: str, value: Any, term: Term, flaws: list[Flaw]) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        flaws.append(Flaw(field, f"must be a whole number of {term.kind.value}"))
    elif not term.low <= value <= term.high:
        flaws.append(Flaw(field, f"must be between {term.low} and {term.high} {term.kind}"))
    return value


def _amount(field: str, value: Any, flaws: list[Flaw]) -> Any:
    if not isinstance(value, dict) or set(value) - {"value", "currency"} or "value" not in value:
        flaws.append(Flaw(field, 'must be {"value": "500.00", "currency": "NOK"}'))
        return value
    raw, currency = value["value"], value.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        flaws.append(Flaw(f"{field}.currency", "must be a currency code such as NOK"))
    amount = _decimal(raw)
    if amount is None or not Decimal(0) <= amount <= AMOUNT_MAX:
        flaws.append(Flaw(f"{field}.value", f"must be a decimal between 0 and {AMOUNT_MAX}"))
    elif amount.as_tuple().exponent < -AMOUNT_DECIMALS:  # type: ignore[operator]
        flaws.append(Flaw(f"{field}.value", f"has more than {AMOUNT_DECIMALS} decimals"))
    else:
        return {"value": f"{amount:.{AMOUNT_DECIMALS}f}", "currency": currency}
    return value


def _decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        # A JSON number arrives as a float: its shortest repr is what the caller wrote.
        amount = Decimal(repr(raw) if isinstance(raw, float) else raw)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _codes(field: str, value: Any, term: Term, flaws: list[Flaw]) -> Any:
    if not isinstance(value, list) or len(value) > LIST_ITEMS_MAX:
        flaws.append(Flaw(field, f"must be a list of at most {LIST_ITEMS_MAX} codes"))
        return value
    for i, code in enumerate(value):
        if not isinstance(code, str) or code not in term.choices:
            choices = ", ".join(sorted(term.choices))
            flaws.append(Flaw(f"{field}[{i}]", f"must be one of {choices}"))
        elif code in value[:i]:
            flaws.append(Flaw(f"{field}[{i}]", f"{code} is listed twice"))
    return value


def _term(field: str, value: Any, term: Term, flaws: list[Flaw]) -> Any:
    if term.kind is Kind.amount:
        return _amount(field, value, flaws)
    if term.kind is Kind.list:
        return _codes(field, value, term, flaws)
    return _whole(field, value, term, flaws)


def check(name: Name, terms: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The terms normalised, if ``terms`` and ``text`` make a valid version of ``name``;
    else ``Refusal`` naming every flaw (terms first, in declared order, then the text)."""
    declared, flaws = TERMS[name], []
    normal: dict[str, Any] = {}
    for key, term in declared.items():
        if key not in terms:
            flaws.append(Flaw(f"terms.{key}", f"is required ({term.kind.value})"))
        else:
            normal[key] = _term(f"terms.{key}", terms[key], term, flaws)
    for key in terms:
        if key not in declared:
            flaws.append(Flaw(f"terms.{key}", f"is not a term of {name}: {', '.join(declared)}"))
    flaws.extend(_text_flaws(name, text))
    if flaws:
        raise Refusal(flaws)
    return normal


def _text_flaws(name: Name, text: str) -> list[Flaw]:
    if not text.strip():
        return [Flaw("text", "must not be blank")]
    if len(text) > TEXT_LENGTH_MAX:
        return [Flaw("text", f"is longer than {TEXT_LENGTH_MAX} characters")]
    try:
        named = placeholders(text)
    except Refusal as refusal:
        return refusal.flaws
    unknown = [n for n in named if n not in TERMS[name]]
    if unknown:
        terms = ", ".join(TERMS[name])
        return [Flaw("text", f"{{{unknown[0]}}} is not a term of {name}: {terms}")]
    for doubled in _UNIT_AFTER.finditer(text):
        key, unit = doubled.groups()
        if TERMS[name][key].kind in (Kind.hours, Kind.days):
            return [Flaw("text", f"{{{key}}} renders with its unit: drop the '{unit}' after it")]
    return []


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def show(term: Term, value: Any) -> str:
    """One term's value as a customer reads it."""
    if term.kind is Kind.hours:
        return _plural(value, "hour")
    if term.kind is Kind.days:
        return _plural(value, "day")
    if term.kind is Kind.amount:
        return f"{value['currency']} {value['value']}"
    words = [str(code).replace("_", " ") for code in value]
    if not words:
        return "none"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def render(name: Name, terms: Mapping[str, Any], text: str) -> str:
    """``text`` with its placeholders filled from ``terms`` (a checked version's)."""
    declared = TERMS[name]

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        # Only a row written around ``check`` lacks one: shown as is, the audit flags it.
        if key not in declared or key not in terms:
            return match.group(0)
        return show(declared[key], terms[key])

    return _PLACEHOLDER.sub(fill, text)
