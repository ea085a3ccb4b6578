"""Register (POS) sales and returns that carry a customer or a price, recorded in PostgreSQL
(migrations/0016_register_sales.sql; what to record: orders/register_sale_rules.py).

The ledger applies every register event (atp/register_events.py); this module records,
after it, what the ledger does not keep: the customer the event joins (orders/customers.py
``attach``, as an order's) and the price it was sold at, checked against the price in
force when sold (orders/prices.py ``check_sale``, channel store). A register's answer
waits for these rows: each event's row is committed in its own short transaction, after
the ledger's call has returned (no pooled connection is held across the durability wait).

Idempotent: one row per device and event id (``ON CONFLICT DO NOTHING``). An event the
ledger answers ``duplicate`` is recorded too, so a retry after a failed recording still
records it; one recorded before with another customer or price is reported as a conflict.
A void marks its target's row voided: it no longer counts in histories or the KPIs.
"""

from collections.abc import Sequence

import asyncpg

from durability.db import Conn
from orders import customers, prices
from orders.customer_rules import Kind
from orders.register_sale_rules import CHANNEL, RegisterSale, RegisterVoid, sale_ref

_INSERT = """
INSERT INTO register_sales (device_id, event_id, kind, location, sku, qty, unit_price,
                            currency, customer_id, customer_email, customer_phone, digest,
                            occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (device_id, event_id) DO NOTHING
RETURNING id
"""
_DIGEST = "SELECT digest FROM register_sales WHERE device_id = $1 AND event_id = $2"
_JOINED = "UPDATE register_sales SET customer = $2, currency = $3 WHERE id = $1"
_VOID = """
UPDATE register_sales SET voided_at = coalesce(voided_at, $3)
WHERE device_id = $1 AND event_id = $2
"""


async def record(
    pool: asyncpg.Pool, device_id: str, work: Sequence[RegisterSale | RegisterVoid]
) -> set[str]:
    """Each sale or return recorded once and each void applied, in the register's order;
    returns the event ids recorded before with another customer or price (nothing changed
    for those). Returns once every row is committed."""
    conflicts: set[str] = set()
    if not work:
        return conflicts
    async with pool.acquire() as conn:
        for item in work:
            # One transaction per event: an attach's identity locks are held briefly and
            # never across events (two batches locking in other orders cannot deadlock).
            async with conn.transaction():
                if isinstance(item, RegisterVoid):
                    await _void(conn, device_id, item)
                elif not await _sale(conn, device_id, item):
                    conflicts.add(item.event_id)
    return conflicts


async def _sale(conn: Conn, device_id: str, sale: RegisterSale) -> bool:
    """False when this event was recorded before with another customer or price."""
    # The row first: a concurrent recording of the same event waits on it here and then
    # compares, before either joins a customer or counts a mismatch twice.
    row_id = await conn.fetchval(
        _INSERT,
        device_id,
        sale.event_id,
        sale.kind.value,
        sale.location,
        sale.sku,
        sale.qty,
        sale.unit_price,
        sale.currency,
        sale.identity(Kind.id),
        sale.identity(Kind.email),
        sale.identity(Kind.phone),
        sale.digest(),
        sale.occurred_at,
    )
    if row_id is None:
        return bool(await conn.fetchval(_DIGEST, device_id, sale.event_id) == sale.digest())
    customer = None
    if sale.identities:
        customer = await customers.attach(
            conn,
            customer_id=sale.identity(Kind.id),
            email=sale.identity(Kind.email),
            phone=sale.identity(Kind.phone),
            name=None,
        )
    currency = sale.currency
    if sale.unit_price is not None:
        checked = await prices.check_sale(
            conn,
            sku=sale.sku,
            channel=CHANNEL.value,
            where=sale_ref(device_id, sale.event_id),
            location=sale.location,
            sold_price=sale.unit_price,
            currency=sale.currency,
            at=sale.occurred_at,
        )
        currency = checked.currency
    await conn.execute(_JOINED, row_id, customer, currency)
    return True


async def _void(conn: Conn, device_id: str, void: RegisterVoid) -> None:
    await conn.execute(_VOID, device_id, void.voids, void.occurred_at)
    await prices.forget_sale(conn, sale_ref(device_id, void.voids))
