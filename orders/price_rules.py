"""Which price applies at an instant, and what a price may be (pure: no I/O).

A SKU's price version holds a list price in one currency and perhaps a promotion: a lower
price within ``[from, to)``. At an instant the promotion's price applies when the instant
is inside its window, else the list price. Every channel asks the same version the same
question, so every channel gets one answer.

Money is decimal with 2 places (the columns are ``numeric(12, 2)``): an amount with more
places is refused rather than rounded, because a rounded price is not the one asked for.
Currencies are ISO 4217 alphabetic codes: three capital letters.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

MONEY_PLACES: Final = 2
CENT: Final = Decimal(1).scaleb(-MONEY_PLACES)  # 0.01
MONEY_MAX: Final = Decimal("9999999999.99")  # numeric(12, 2)
CURRENCY_RULE: Final = re.compile(r"[A-Z]{3}")
# Instants a price may name: far enough from datetime's ends that no offset overflows it.
YEAR_MIN: Final = 1970
YEAR_MAX: Final = 9998


@dataclass(frozen=True)
class Flaw:
    field: str
    message: str


class Refusal(ValueError):
    """Input that is not a price: every flaw found, each naming its field."""

    def __init__(self, flaws: list[Flaw]) -> None:
        super().__init__("; ".join(f"{f.field}: {f.message}" for f in flaws))
        self.flaws = flaws


@dataclass(frozen=True)
class Promotion:
    price: Decimal
    start: datetime  # inclusive ("from")
    end: datetime  # exclusive ("to")

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Terms:
    """What a price version says; two equal Terms are the same price (a retry)."""

    list_price: Decimal
    currency: str
    promotion: Promotion | None = None

    def promotion_at(self, at: datetime) -> Promotion | None:
        promo = self.promotion
        return promo if promo is not None and promo.active(at) else None

    def price_at(self, at: datetime) -> Decimal:
        promo = self.promotion_at(at)
        return self.list_price if promo is None else promo.price


def money(field: str, raw: object, flaws: list[Flaw]) -> Decimal | None:
    """``raw`` as money with 2 places, or None with a flaw noted."""
    try:
        amount = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        flaws.append(Flaw(field, "must be a decimal amount"))
        return None
    if amount < 0:
        flaws.append(Flaw(field, "must not be negative"))
        return None
    if amount > MONEY_MAX:
        flaws.append(Flaw(field, f"must be at most {MONEY_MAX}"))
        return None
    exact = amount.quantize(CENT)
    if exact != amount:
        flaws.append(Flaw(field, f"must have at most {MONEY_PLACES} decimal places"))
        return None
    return exact


def currency(field: str, raw: str, flaws: list[Flaw]) -> str | None:
    if not CURRENCY_RULE.fullmatch(raw):
        flaws.append(Flaw(field, "must be an ISO 4217 code: three capital letters"))
        return None
    return raw


def instant_flaw(raw: datetime) -> str | None:
    """Why ``raw`` is no instant a price may name, if it is not."""
    if raw.tzinfo is None or raw.utcoffset() is None:
        return "must be an RFC 3339 date-time with an offset"
    if not YEAR_MIN <= raw.year <= YEAR_MAX:
        return f"must be in the years {YEAR_MIN} to {YEAR_MAX}"
    return None


def _instant(field: str, raw: datetime, flaws: list[Flaw]) -> datetime | None:
    flaw = instant_flaw(raw)
    if flaw is not None:
        flaws.append(Flaw(field, flaw))
        return None
    return raw


def check(
    list_price: object,
    code: str,
    promotion: tuple[object, datetime, datetime] | None = None,
) -> Terms:
    """The terms, normalised; raises ``Refusal`` naming every bad field.

    ``promotion`` is (price, from, to): its price at most the list price (a promotion
    never raises it), and ``to`` after ``from``."""
    flaws: list[Flaw] = []
    listed = money("list_price", list_price, flaws)
    cur = currency("currency", code, flaws)
    promo: Promotion | None = None
    if promotion is not None:
        raw_price, raw_start, raw_end = promotion
        price = money("promotion.price", raw_price, flaws)
        start = _instant("promotion.from", raw_start, flaws)
        end = _instant("promotion.to", raw_end, flaws)
        if price is not None and listed is not None and price > listed:
            flaws.append(Flaw("promotion.price", "must not be above list_price"))
        if start is not None and end is not None and end <= start:
            flaws.append(Flaw("promotion.to", "must be after promotion.from"))
        if price is not None and start is not None and end is not None:
            promo = Promotion(price, start, end)
    if flaws:
        raise Refusal(flaws)
    assert listed is not None and cur is not None
    return Terms(listed, cur, promo)


def same_currency(terms: Terms, existing: str | None) -> None:
    """A SKU keeps one currency: its prices compare, and so do the sales against them."""
    if existing is not None and terms.currency != existing:
        raise Refusal([Flaw("currency", f"must be {existing}, the currency of this SKU's prices")])


def matches(sold_price: Decimal, sold_currency: str, price: Decimal, price_currency: str) -> bool:
    """Whether a sale was at the price that applied (the same amount in the same currency)."""
    return sold_currency == price_currency and sold_price == price
