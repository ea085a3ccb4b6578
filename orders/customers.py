"""Customers across channels: orders (online and the stores' endless aisle) and their
returns joined into one customer by the identities they carry (orders/customer_rules.py
says how), and explicit merges.

An order's identities are attached when it is placed (``attach``, in the order's
transaction) and by the backfill (``resolve_all``) for orders placed before. A history
(orders/customer_history.py) is read through the identities at read time: the orders
carrying any identity the customer holds, and those orders' returns, so a merge (which
moves identities) rewrites no order.

Concurrency: writers take a transaction advisory lock per identity (sorted, so no two
wait on each other in a circle) before reading who holds it, then lock customer rows; a
merge does the same, so an attach never adds an identity to a customer being merged away.
"""

import secrets
from typing import Any, Final

import msgspec

from atp.model import InvalidInput
from durability.db import Conn
from orders.customer_rules import (
    Identity,
    Kind,
    MergeOutcome,
    check_merge,
    identities,
    plan,
)

# Orders the backfill resolves per round trip.
BACKFILL_BATCH: Final = 500
CUSTOMER_ID_PREFIX: Final = "cus_"


def _new_id() -> str:
    return CUSTOMER_ID_PREFIX + secrets.token_hex(8)


async def _lock(conn: Conn, wanted: list[Identity]) -> None:
    for ident in sorted(set(wanted)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 15))", f"{ident.kind}:{ident.value}"
        )


async def _holders(conn: Conn, wanted: list[Identity]) -> dict[Identity, str]:
    rows = await conn.fetch(
        "SELECT i.kind, i.value, coalesce(c.merged_into, c.id) AS root"
        " FROM customer_identities i JOIN customers c ON c.id = i.customer_id"
        " WHERE (i.kind, i.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [i.kind.value for i in wanted],
        [i.value for i in wanted],
    )
    return {Identity(Kind(r["kind"]), r["value"]): r["root"] for r in rows}


async def _has_account(conn: Conn, customers: set[str]) -> dict[str, bool]:
    rows = await conn.fetch(
        "SELECT DISTINCT customer_id FROM customer_identities"
        " WHERE kind = 'id' AND customer_id = ANY($1::text[])",
        list(customers),
    )
    with_account = {r["customer_id"] for r in rows}
    return {c: c in with_account for c in customers}


async def _claim(conn: Conn, customer: str, claim: tuple[Identity, ...]) -> None:
    for ident in claim:
        await conn.execute(
            "INSERT INTO customer_identities (kind, value, customer_id) VALUES ($1, $2, $3)",
            ident.kind.value,
            ident.value,
            customer,
        )


async def attach(
    conn: Conn,
    *,
    customer_id: str | None,
    email: str | None,
    phone: str | None,
    name: str | None,
) -> str | None:
    """The customer an order's identities join (created if none holds them); None for an
    order carrying none. Call it inside the order's transaction: it commits with it.
    Attaching the same identities again changes nothing."""
    wanted = list(identities(customer_id, email, phone))
    if not wanted:
        return None
    async with conn.transaction():  # a savepoint inside the caller's transaction
        await _lock(conn, wanted)
        holders = await _holders(conn, wanted)
        decided = plan(wanted, holders, await _has_account(conn, set(holders.values())))
        customer = decided.customer
        if customer is None:
            customer = _new_id()
            await conn.execute("INSERT INTO customers (id, name) VALUES ($1, $2)", customer, name)
        else:
            # A merge of this customer waits for us, or we for it: then its survivor.
            root = await conn.fetchval(
                "SELECT coalesce(merged_into, id) FROM customers WHERE id = $1 FOR SHARE",
                customer,
            )
            customer = str(root)
            if name is not None:
                await conn.execute(
                    "UPDATE customers SET name = $2 WHERE id = $1 AND name IS NULL", customer, name
                )
        await _claim(conn, customer, decided.claim)
    return customer


async def resolve_all(conn: Conn) -> int:
    """The backfill: every order's identities attached, oldest first (as if each was
    attached when placed). Returns the orders looked at; running it again changes nothing."""
    seen, after = 0, 0
    while True:
        rows = await conn.fetch(
            "SELECT seq, customer_id, customer_email, customer_phone, customer_name FROM orders"
            " WHERE seq > $1 AND (customer_id IS NOT NULL OR customer_email IS NOT NULL"
            " OR customer_phone IS NOT NULL) ORDER BY seq LIMIT $2",
            after,
            BACKFILL_BATCH,
        )
        for r in rows:
            try:
                async with conn.transaction():
                    await attach(
                        conn,
                        customer_id=r["customer_id"],
                        email=r["customer_email"],
                        phone=r["customer_phone"],
                        name=r["customer_name"],
                    )
            except InvalidInput:
                pass  # a contact stored before it was checked: it identifies no one
            seen += 1
        if len(rows) < BACKFILL_BATCH:
            return seen
        after = rows[-1]["seq"]


async def root_of(conn: Conn, customer: str) -> str | None:
    """The customer an id answers as (its survivor when merged); None: unknown."""
    found = await conn.fetchval(
        "SELECT coalesce(merged_into, id) FROM customers WHERE id = $1", customer
    )
    return None if found is None else str(found)


async def lookup(conn: Conn, email: str | None, phone: str | None) -> list[str]:
    """The customers (survivors) holding this email or phone; raises InvalidInput naming
    ``email`` or ``phone`` when one is not an address or number, or neither is given."""
    if email is None and phone is None:
        raise InvalidInput("email", "give email, phone or both")
    wanted = list(identities(None, email, phone))
    return sorted(set((await _holders(conn, wanted)).values()))


async def merge(conn: Conn, survivor: str, other: str, actor: str) -> bool | None:
    """``other`` merged into ``survivor``: its identities move, its id answers the
    survivor from now on. True when merged now, False when merged before (a retry);
    None when either id is unknown. Raises InvalidInput naming the field when refused."""
    async with conn.transaction():
        owned = await conn.fetch(
            "SELECT kind, value FROM customer_identities i JOIN customers c ON c.id = i.customer_id"
            " WHERE c.id = ANY($1::text[]) OR c.merged_into = ANY($1::text[])",
            [survivor, other],
        )
        await _lock(conn, [Identity(Kind(r["kind"]), r["value"]) for r in owned])
        rows = await conn.fetch(
            "SELECT id, coalesce(merged_into, id) AS root FROM customers"
            " WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
            [survivor, other],
        )
        roots = {r["id"]: r["root"] for r in rows}
        if survivor not in roots or other not in roots:
            return None
        if check_merge(survivor, other, roots) is MergeOutcome.already:
            return False
        moved = await conn.fetch(
            "UPDATE customer_identities SET customer_id = $1 WHERE customer_id = $2"
            " RETURNING kind, value",
            survivor,
            other,
        )
        await conn.execute(
            "UPDATE customers SET merged_into = $1 WHERE id = $2 OR merged_into = $2",
            survivor,
            other,
        )
        await conn.execute(
            "UPDATE customers SET name = (SELECT name FROM customers WHERE id = $2)"
            " WHERE id = $1 AND name IS NULL",
            survivor,
            other,
        )
        moved_list: list[dict[str, Any]] = [{"kind": r["kind"], "value": r["value"]} for r in moved]
        await conn.execute(
            "INSERT INTO customer_merges (other, survivor, identities, merged_by)"
            " VALUES ($1, $2, $3::jsonb, $4)",
            other,
            survivor,
            msgspec.json.encode(moved_list).decode(),
            actor,
        )
    return True
