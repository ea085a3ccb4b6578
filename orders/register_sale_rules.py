"""What a register (POS) sale or return records beside the ledger (pure: no I/O).

A register event that carries a customer (an account id, email or phone) or the price it
was sold at is recorded in PostgreSQL (orders/register_sales.py): the customer joins the
one customer of every channel, the price is checked against the one in force when sold.
An event carrying neither is the ledger's alone, as before.

Registers sell on the store channel (the counter: api/lanes.py ``register``), so their
sales count there in the price check and the KPIs.

The body of what is recorded has its own digest: a replay of the same event with another
customer or price is a conflict, as one with another SKU or quantity is in the ledger.
"""

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from atp.model import Channel, InvalidInput
from orders.customer_rules import Identity, Kind, identities
from orders.price_rules import Flaw, currency, instant_flaw, money

CHANNEL: Final = Channel.store  # the channel register sales count on
SALE_REF_SEPARATOR: Final = "/"  # sale_ref of a mismatch: <device_id>/<event_id>


class SaleKind(enum.StrEnum):
    sale = "sale"
    return_ = "return"


@dataclass(frozen=True)
class RegisterSale:
    """A register sale or return to record: its customer's identities (normalized, in
    precedence order) and the price it was sold at, each perhaps absent."""

    kind: SaleKind
    event_id: str
    sku: str
    location: str
    qty: int
    occurred_at: datetime
    unit_price: Decimal | None = None
    currency: str | None = None
    identities: tuple[Identity, ...] = ()

    def identity(self, kind: Kind) -> str | None:
        return next((i.value for i in self.identities if i.kind is kind), None)

    def digest(self) -> str:
        """What makes two recordings of one event the same (ledger fields aside)."""
        text = "|".join(
            [
                self.kind.value,
                "" if self.unit_price is None else str(self.unit_price),
                self.currency or "",
                *(f"{i.kind.value}:{i.value}" for i in self.identities),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RegisterVoid:
    """An applied void: the event it cancels stops counting as a sale or return."""

    voids: str
    occurred_at: datetime


def sale_ref(device_id: str, event_id: str) -> str:
    """A register sale's reference, as the journal names it (``<device>/<event>``)."""
    return f"{device_id}{SALE_REF_SEPARATOR}{event_id}"


def _identities(
    at: str, customer_id: str | None, email: str | None, phone: str | None
) -> tuple[Identity, ...]:
    if customer_id is None and email is None and phone is None:
        raise InvalidInput(f"{at}.customer", "give id, email or phone (or leave customer out)")
    try:
        return identities(customer_id, email, phone)
    except InvalidInput as exc:
        name = "id" if exc.field == "customer_id" else exc.field
        raise InvalidInput(f"{at}.customer.{name}", exc.message) from None


def _price(at: str, unit_price: object, code: str | None) -> tuple[Decimal | None, str | None]:
    if unit_price is None:
        if code is not None:
            raise InvalidInput(f"{at}.currency", "give unit_price with it")
        return None, None
    flaws: list[Flaw] = []
    price = money(f"{at}.unit_price", unit_price, flaws)
    cur = None if code is None else currency(f"{at}.currency", code, flaws)
    if flaws:
        raise InvalidInput(flaws[0].field, flaws[0].message)
    return price, cur


def register_sale(
    at: str,
    *,
    kind: SaleKind,
    event_id: str,
    sku: str,
    location: str,
    qty: int,
    occurred_at: datetime,
    unit_price: object = None,
    currency_code: str | None = None,
    customer: tuple[str | None, str | None, str | None] | None = None,
) -> RegisterSale | None:
    """What to record of one event (``at`` names it: ``events[i]``), or None when it
    carries neither customer nor price. ``customer`` is (id, email, phone). Raises
    InvalidInput naming the field (``events[i].customer.email``, ``events[i].unit_price``…)."""
    if kind is SaleKind.return_ and (unit_price is not None or currency_code is not None):
        raise InvalidInput(f"{at}.unit_price", "a return carries no price")
    price, cur = _price(at, unit_price, currency_code)
    idents = () if customer is None else _identities(at, *customer)
    if price is None and not idents:
        return None
    flaw = instant_flaw(occurred_at)
    if flaw is not None:
        raise InvalidInput(f"{at}.occurred_at", flaw)
    return RegisterSale(kind, event_id, sku, location, qty, occurred_at, price, cur, idents)
