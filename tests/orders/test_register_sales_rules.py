"""What a register sale records beside the ledger (orders/register_sale_rules.py): nothing
without a customer or price, identities normalized, prices exact, every refusal naming
its field, and a digest that tells two recordings of one event apart. No server."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from atp.model import InvalidInput
from orders.customer_rules import Kind
from orders.register_sale_rules import SaleKind, register_sale, sale_ref

AT = dt.datetime(2026, 12, 3, 10, tzinfo=dt.UTC)


def _sale(**kw: Any) -> Any:
    args: dict[str, Any] = {
        "kind": SaleKind.sale,
        "event_id": "till-1-1",
        "sku": "A",
        "location": "S1",
        "qty": 2,
        "occurred_at": AT,
    }
    args.update(kw)
    return register_sale("events[3]", **args)


def _field(**kw: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        _sale(**kw)
    return caught.value.field


def test_an_event_without_customer_or_price_records_nothing() -> None:
    assert _sale() is None
    assert _sale(kind=SaleKind.return_) is None


def test_customer_identities_are_normalized_in_precedence_order() -> None:
    found = _sale(customer=("acct-7", " Kari@Example.NO ", "0047 912 34 567"))
    assert found is not None and found.unit_price is None
    assert found.identity(Kind.id) == "acct-7"
    assert found.identity(Kind.email) == "kari@example.no"
    assert found.identity(Kind.phone) == "+4791234567"
    assert [i.kind for i in found.identities] == [Kind.id, Kind.email, Kind.phone]


def test_a_price_is_exact_money_with_an_optional_currency() -> None:
    found = _sale(unit_price=Decimal("249"), currency_code="NOK")
    assert found is not None and found.unit_price == Decimal("249.00")
    assert found.currency == "NOK" and found.identities == ()
    assert _sale(unit_price=12.5).currency is None  # the SKU's, when recorded


def test_each_refusal_names_its_field() -> None:
    assert _field(customer=(None, None, None)) == "events[3].customer"
    assert _field(customer=(None, "not-an-address", None)) == "events[3].customer.email"
    assert _field(customer=(None, None, "12345")) == "events[3].customer.phone"
    assert _field(customer=("bad id!", None, None)) == "events[3].customer.id"
    assert _field(unit_price=Decimal("1.005")) == "events[3].unit_price"
    assert _field(unit_price=-1) == "events[3].unit_price"
    assert _field(unit_price="ten") == "events[3].unit_price"
    assert _field(unit_price=1, currency_code="nok") == "events[3].currency"
    assert _field(currency_code="NOK") == "events[3].currency"  # a currency of no price
    assert _field(kind=SaleKind.return_, unit_price=1) == "events[3].unit_price"
    naive = AT.replace(tzinfo=None)
    assert _field(unit_price=1, occurred_at=naive) == "events[3].occurred_at"


def test_the_digest_differs_with_customer_or_price_only() -> None:
    base = _sale(unit_price=10, customer=(None, "kari@example.no", None))
    same = _sale(unit_price="10.00", customer=(None, "KARI@example.no", None), qty=5)
    assert base.digest() == same.digest()  # the ledger judges sku and qty
    assert base.digest() != _sale(unit_price=11, customer=(None, "kari@example.no", None)).digest()
    assert base.digest() != _sale(unit_price=10, customer=(None, "ola@example.no", None)).digest()
    assert base.digest() != _sale(unit_price=10).digest()


def test_sale_ref_is_the_journals_name_of_the_event() -> None:
    assert sale_ref("till-1", "e1") == "till-1/e1"
