"""Listing orders: by customer id, email or phone, store and state, oldest first, with a
cursor; a key bound to stores sees those at its stores and those it created."""

from collections.abc import Sequence
from typing import Any

import msgspec

from durability.db import Conn
from orders.model import AT_STORE, State
from orders.store import COLUMNS, orders
from orders.views import Order


class Filters(msgspec.Struct, frozen=True):
    customer: str | None = None  # a customer id, an email or a phone (normalised)
    email: str | None = None
    phone: str | None = None
    location: str | None = None
    state: State | None = None
    # A key bound to stores: only orders at these stores or that it created.
    within: frozenset[str] | None = None
    created_by: str | None = None


async def listed(
    conn: Conn, f: Filters, after_seq: int, limit: int
) -> tuple[list[Order], int | None]:
    """Orders matching ``f`` oldest first from ``after_seq``; the next cursor's seq."""
    where, args = ["o.seq > $1"], [after_seq]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.customer is not None:
        where.append(f"o.customer_id = {arg(f.customer)}")
    if f.email is not None:
        where.append(f"o.customer_email = {arg(f.email)}")
    if f.phone is not None:
        where.append(f"o.customer_phone = {arg(f.phone)}")
    if f.location is not None:
        where.append(f"o.location = {arg(f.location)}")
    if f.state is not None:
        where.append(f"o.state = {arg(f.state.value)}")
    if f.within is not None:
        stores, creator = arg(sorted(f.within)), arg(f.created_by)
        where.append(f"(o.location = ANY({stores}::text[]) OR o.created_by = {creator})")
    sql = (
        f"SELECT {COLUMNS} FROM orders o WHERE {' AND '.join(where)}"
        f" ORDER BY o.seq LIMIT {arg(limit + 1)}"
    )
    rows = await conn.fetch(sql, *args)
    more = len(rows) > limit
    rows = rows[:limit]
    found = await orders(conn, rows)
    return found, (rows[-1]["seq"] if more else None)


async def pickup_queue(
    conn: Conn, location: str, states: Sequence[State], limit: int
) -> list[Order]:
    """A store's pickup and curbside orders in ``states``, the earliest promise first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM orders o WHERE o.location = $1 AND o.method = ANY($2::text[])"
        " AND o.state = ANY($3::text[]) ORDER BY o.promised_at NULLS LAST, o.seq LIMIT $4",
        location,
        [m.value for m in AT_STORE],
        [s.value for s in states],
        limit,
    )
    return await orders(conn, rows)
