"""A customer's history read through its identities (orders/customers.py keeps them):
the orders carrying any identity the customer holds, from every channel, and their
returns, and the register sales and returns carrying one (orders/register_sales.py),
newest first; a merged id answers its survivor."""

import datetime as dt
from decimal import Decimal
from typing import Final

import msgspec

from durability.db import Conn
from orders.customer_rules import Identity, Kind
from orders.customers import root_of
from orders.register_sale_rules import CHANNEL

# Orders (and so returns) one customer answer lists, newest first; beyond, the answer
# says it was cut.
HISTORY_ORDERS_MAX: Final = 200
HISTORY_REGISTER_MAX: Final = 200  # register sales and returns listed, newest first


class IdentityView(msgspec.Struct, frozen=True):
    kind: str
    value: str


class HistoryLine(msgspec.Struct, frozen=True):
    sku: str
    qty: int
    unit_price: Decimal | None
    delivered: int
    returned: int


class OrderTotals(msgspec.Struct, frozen=True):
    units: int
    amount: Decimal | None  # None when a line has no price


class HistoryOrder(msgspec.Struct, frozen=True):
    id: str
    state: str
    channel: str
    method: str
    location: str | None
    lines: list[HistoryLine]
    received: dt.datetime
    totals: OrderTotals


class HistoryReturn(msgspec.Struct, frozen=True):
    id: str
    order: str
    state: str
    refund: Decimal | None
    received: dt.datetime | None


class HistoryRegisterEvent(msgspec.Struct, frozen=True):
    """A sale or return at a store's register (the store channel)."""

    kind: str  # sale or return
    channel: str
    location: str
    device_id: str
    event_id: str
    sku: str
    qty: int
    unit_price: Decimal | None  # what it was sold at, when the register said
    currency: str | None
    occurred_at: dt.datetime
    voided: bool  # cancelled at the register: not a purchase


class CustomerView(msgspec.Struct, frozen=True):
    id: str
    name: str | None
    created_at: dt.datetime
    identities: list[IdentityView]
    merged: list[str]  # ids merged into this one (reads of them answer this)
    orders: list[HistoryOrder]  # newest first
    returns: list[HistoryReturn]  # newest first
    possible_duplicates: list[str]  # others holding identities of these orders
    orders_cut: bool = False  # more than HISTORY_ORDERS_MAX orders: the newest are listed
    # Register sales and returns, newest first (beyond HISTORY_REGISTER_MAX: cut).
    register: list[HistoryRegisterEvent] = msgspec.field(default_factory=list)
    register_cut: bool = False


def _totals(lines: list[HistoryLine]) -> OrderTotals:
    units = sum(ln.qty for ln in lines)
    priced = [ln.unit_price * ln.qty for ln in lines if ln.unit_price is not None]
    amount = sum(priced, Decimal("0")) if len(priced) == len(lines) else None
    return OrderTotals(units, amount)


def _by_kind(idents: list[Identity]) -> tuple[list[str], list[str], list[str]]:
    """The identities' values as the queries take them: ids, emails, phones."""

    def values(kind: Kind) -> list[str]:
        return [i.value for i in idents if i.kind is kind]

    return values(Kind.id), values(Kind.email), values(Kind.phone)


async def _orders(conn: Conn, idents: list[Identity]) -> tuple[list[HistoryOrder], bool]:
    rows = await conn.fetch(
        "SELECT id, state, channel, method, location, order_received_at, seq FROM orders"
        " WHERE customer_id = ANY($1::text[]) OR customer_email = ANY($2::text[])"
        " OR customer_phone = ANY($3::text[]) ORDER BY order_received_at DESC, seq DESC"
        " LIMIT $4",
        *_by_kind(idents),
        HISTORY_ORDERS_MAX + 1,
    )
    cut = len(rows) > HISTORY_ORDERS_MAX
    rows = rows[:HISTORY_ORDERS_MAX]
    lines: dict[str, list[HistoryLine]] = {r["id"]: [] for r in rows}
    for ln in await conn.fetch(
        "SELECT order_id, sku, qty, unit_price, delivered, returned FROM order_lines"
        " WHERE order_id = ANY($1::text[]) ORDER BY order_id, line_no",
        list(lines),
    ):
        lines[ln["order_id"]].append(
            HistoryLine(ln["sku"], ln["qty"], ln["unit_price"], ln["delivered"], ln["returned"])
        )
    orders = [
        HistoryOrder(
            r["id"],
            r["state"],
            r["channel"],
            r["method"],
            r["location"],
            lines[r["id"]],
            r["order_received_at"],
            _totals(lines[r["id"]]),
        )
        for r in rows
    ]
    return orders, cut


async def _returns(conn: Conn, order_ids: list[str]) -> list[HistoryReturn]:
    rows = await conn.fetch(
        "SELECT id, order_id, state, refund_amount, return_received_at FROM returns"
        " WHERE order_id = ANY($1::text[]) ORDER BY seq DESC",
        order_ids,
    )
    return [
        HistoryReturn(
            r["id"], r["order_id"], r["state"], r["refund_amount"], r["return_received_at"]
        )
        for r in rows
    ]


async def _register(
    conn: Conn, idents: list[Identity]
) -> tuple[list[HistoryRegisterEvent], list[int], bool]:
    """The register sales and returns carrying these identities: (events, row ids, cut)."""

    rows = await conn.fetch(
        "SELECT id, kind, location, device_id, event_id, sku, qty, unit_price, currency,"
        " occurred_at, voided_at FROM register_sales"
        " WHERE customer_id = ANY($1::text[]) OR customer_email = ANY($2::text[])"
        " OR customer_phone = ANY($3::text[]) ORDER BY occurred_at DESC, id DESC LIMIT $4",
        *_by_kind(idents),
        HISTORY_REGISTER_MAX + 1,
    )
    cut = len(rows) > HISTORY_REGISTER_MAX
    rows = rows[:HISTORY_REGISTER_MAX]
    events = [
        HistoryRegisterEvent(
            r["kind"],
            CHANNEL.value,
            r["location"],
            r["device_id"],
            r["event_id"],
            r["sku"],
            r["qty"],
            r["unit_price"],
            r["currency"],
            r["occurred_at"],
            r["voided_at"] is not None,
        )
        for r in rows
    ]
    return events, [r["id"] for r in rows], cut


async def _duplicates(
    conn: Conn, customer: str, order_ids: list[str], register_ids: list[int]
) -> list[str]:
    """Other customers holding an identity one of these orders or register events carries."""
    rows = await conn.fetch(
        "WITH carried AS ("
        "  SELECT customer_id, customer_email, customer_phone FROM orders"
        "  WHERE id = ANY($1::text[])"
        "  UNION SELECT customer_id, customer_email, customer_phone FROM register_sales"
        "  WHERE id = ANY($2::bigint[]))"
        " SELECT DISTINCT coalesce(c.merged_into, c.id) AS root"
        " FROM carried o"
        " JOIN customer_identities i ON (i.kind = 'id' AND i.value = o.customer_id)"
        "  OR (i.kind = 'email' AND i.value = o.customer_email)"
        "  OR (i.kind = 'phone' AND i.value = o.customer_phone)"
        " JOIN customers c ON c.id = i.customer_id",
        order_ids,
        register_ids,
    )
    return sorted({r["root"] for r in rows} - {customer})


async def get(conn: Conn, customer: str) -> CustomerView | None:
    """A customer with its identities and its history (a merged id answers its survivor),
    read in one snapshot so a merge meanwhile is seen whole or not at all."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read(conn, customer)


async def _read(conn: Conn, customer: str) -> CustomerView | None:
    root = await root_of(conn, customer)
    if root is None:
        return None
    row = await conn.fetchrow("SELECT name, created_at FROM customers WHERE id = $1", root)
    assert row is not None
    ident_rows = await conn.fetch(
        "SELECT kind, value FROM customer_identities WHERE customer_id = $1 ORDER BY kind, value",
        root,
    )
    idents = [Identity(Kind(r["kind"]), r["value"]) for r in ident_rows]
    merged = await conn.fetch("SELECT id FROM customers WHERE merged_into = $1 ORDER BY id", root)
    orders, cut = await _orders(conn, idents)
    order_ids = [o.id for o in orders]
    register, register_ids, register_cut = await _register(conn, idents)
    return CustomerView(
        root,
        row["name"],
        row["created_at"],
        [IdentityView(i.kind.value, i.value) for i in idents],
        [r["id"] for r in merged],
        orders,
        await _returns(conn, order_ids),
        await _duplicates(conn, root, order_ids, register_ids),
        cut,
        register,
        register_cut,
    )
