"""Transfers in PostgreSQL (migrations/0011_orders.sql ``transfers``): the row as the API
shows it, and the statements that begin and record each step (orders/transfers.py).

Every record of a step is conditional on the step still being begun, so a request and the
recovery sweep finishing the same step record it once. What outlives a step (the receipts
counted, the units sent back, a refusal) is kept in ``pending_detail`` beside the begun
step's own detail (its key ``step``)."""

from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from durability.db import Queryable
from orders.transfer_rules import Spec, TransferState

COLUMNS = (
    "id, seq, sku, from_location, to_location, qty, received, expected_on, digest, state,"
    " pending_step, coalesce(pending_detail, '{}')::text AS detail, created_by, created_at,"
    " shipped_at, received_at, cancelled_at"
)
_GET = f"SELECT {COLUMNS} FROM transfers WHERE id = $1"
_INSERT = """
INSERT INTO transfers (id, sku, from_location, to_location, qty, expected_on, digest, state,
                       pending_step, pending_since, pending_detail, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 'ship', now(), '{}', $8, now())
ON CONFLICT (id) DO NOTHING RETURNING id
"""
# Begins a step on a row as it was read (state, step and received unchanged since).
BEGIN = """
UPDATE transfers SET pending_step = $2, pending_since = now(),
    pending_detail = coalesce(pending_detail, '{}') || $3::jsonb
WHERE id = $1 AND pending_step IS NOT DISTINCT FROM $4 AND state = $5 AND received = $6
"""
SHIPPED = """
UPDATE transfers SET state = 'in_transit', shipped_at = now(), pending_step = NULL,
    pending_since = NULL, pending_detail = pending_detail - 'step'
WHERE id = $1 AND pending_step = 'ship'
"""
REFUSED = "DELETE FROM transfers WHERE id = $1 AND pending_step = 'ship'"
RECEIVED = """
UPDATE transfers SET received = received + $2,
    state = CASE WHEN received + $2 = qty THEN 'received' ELSE state END,
    received_at = CASE WHEN received + $2 = qty THEN now() ELSE received_at END,
    pending_step = NULL, pending_since = NULL,
    pending_detail = jsonb_set(pending_detail - 'step', '{receipts}',
        coalesce(pending_detail -> 'receipts', '{}') || jsonb_build_object($3::text, $2::int))
WHERE id = $1 AND pending_step = 'receive' AND pending_detail -> 'step' ->> 'receipt_id' = $3
"""
# A receipt the ledger refused (its supply gone some other way): nothing counted.
DROPPED = """
UPDATE transfers SET pending_step = NULL, pending_since = NULL,
    pending_detail = pending_detail - 'step'
WHERE id = $1 AND pending_step = 'receive'
"""
CANCELLED = """
UPDATE transfers SET state = 'cancelled', cancelled_at = now(), pending_step = NULL,
    pending_since = NULL, pending_detail = (pending_detail - 'step') || $2::jsonb
WHERE id = $1 AND pending_step IN ('cancel', 'unship')
"""
STALE = """
SELECT id FROM transfers
WHERE pending_step IS NOT NULL AND pending_since < now() - make_interval(secs => $1)
ORDER BY pending_since LIMIT $2
"""
# A stale step claimed by moving its lease on: no other sweep takes it meanwhile, and no
# connection is held across its ledger writes (the journal's flush needs one).
TAKE = f"""
UPDATE transfers SET pending_since = now()
WHERE id = $1 AND pending_step IS NOT NULL
  AND pending_since < now() - make_interval(secs => $2)
RETURNING {COLUMNS}
"""
_LIST = f"""
SELECT {COLUMNS} FROM transfers
WHERE seq > $1 AND ($2::text IS NULL OR $2 IN (from_location, to_location))
  AND ($3::text[] IS NULL OR from_location = ANY($3) OR to_location = ANY($3))
  AND ($4::text IS NULL OR state = $4)
ORDER BY seq LIMIT $5
"""


class Receipt(msgspec.Struct, frozen=True):
    receipt_id: str
    qty: int


class Transfer(msgspec.Struct, frozen=True):
    id: str
    sku: str
    from_: str = msgspec.field(name="from")
    to: str = ""
    qty: int = 0
    received: int = 0
    in_transit: int = 0  # units left the sender and not yet received nor sent back
    returned: int = 0  # units a cancellation (or a refusal) gave back to the sender
    expected_on: date | None = None
    state: TransferState = TransferState.pending
    receipts: list[Receipt] = msgspec.field(default_factory=list)
    refusal: str | None = None  # why the ledger refused it (then cancelled)
    created_by: str = ""
    created_at: datetime | None = None
    shipped_at: datetime | None = None
    received_at: datetime | None = None
    cancelled_at: datetime | None = None
    pending_step: str | None = None  # a step begun and not yet recorded


def notes(row: asyncpg.Record) -> dict[str, Any]:
    found: dict[str, Any] = msgspec.json.decode(row["detail"])
    return found


def of(row: asyncpg.Record) -> Transfer:
    kept = notes(row)
    state = TransferState(row["state"])
    received = row["received"]
    in_transit = row["qty"] - received if state is TransferState.in_transit else 0
    receipts = [Receipt(k, v) for k, v in kept.get("receipts", {}).items()]
    return Transfer(
        row["id"],
        row["sku"],
        row["from_location"],
        row["to_location"],
        row["qty"],
        received,
        in_transit,
        kept.get("returned", 0),
        row["expected_on"],
        state,
        receipts,
        kept.get("refusal"),
        row["created_by"],
        row["created_at"],
        row["shipped_at"],
        row["received_at"],
        row["cancelled_at"],
        row["pending_step"],
    )


def json(value: dict[str, Any]) -> str:
    return msgspec.json.encode(value).decode()


async def fetch(db: Queryable, transfer_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(_GET, transfer_id)


async def insert(db: Queryable, spec: Spec, created_by: str) -> bool:
    """The row, begun at its ship step; False when the id is taken."""
    found = await db.fetchval(
        _INSERT,
        spec.id,
        spec.sku,
        spec.from_location,
        spec.to_location,
        spec.qty,
        spec.expected_on,
        spec.digest(),
        created_by,
    )
    return found is not None


async def ends(db: Queryable, transfer_id: str) -> tuple[str, str] | None:
    """(from, to) of a transfer, for the API's lanes."""
    row = await db.fetchrow(
        "SELECT from_location, to_location FROM transfers WHERE id = $1", transfer_id
    )
    return None if row is None else (row["from_location"], row["to_location"])


async def page(
    db: Queryable,
    after: int,
    location: str | None,
    within: list[str] | None,
    state: TransferState | None,
    limit: int,
) -> tuple[list[Transfer], int | None]:
    """Transfers by seq after a cursor, touching ``location`` and any of ``within``."""
    rows = await db.fetch(_LIST, after, location, within, state and state.value, limit)
    more = rows[-1]["seq"] if len(rows) == limit else None
    return [of(r) for r in rows], more
