"""Return anywhere: a return of an order from any channel, taken at any location.

Judged against the returns policy in force (orders/return_rules.py, pure), then applied in
the order service's three steps (migrations/0011_orders.sql): (1) the row is inserted
``pending``; (2) its sellable lines are restocked where they landed under op ids derived
from the return, durably; (3) one transaction records it ``received`` with the order
lines' returned counts and the damaged units' non-sellable count. A process dying between
the steps leaves a pending row that ``resume_stale`` (or a retry) finishes; the op ids make
step (2) safe to run twice.
"""

import datetime
import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Final

import asyncpg
import msgspec

from atp.clock import instant
from atp.limits import ID_LENGTH_MAX
from atp.model import AdjustReason, InvalidInput
from catalog.known import unknown_ids
from durability.db import Conn
from durability.group_commit import Durability, acknowledged
from engine.protocol import LedgerEngine
from orders import policies
from orders import return_rules as rules
from orders.return_rules import Disposition, PolicyRef, Return, ReturnRequest

log = logging.getLogger(__name__)

RESUME_BATCH_MAX: Final = 100  # pending returns one sweep finishes
LISTED_MAX: Final = 100  # returns of one page


_COLUMNS = """id, seq, order_id, location, state, lines::text AS lines, policy_name,
policy_version, refund_amount, return_received_at, refund_initiated_at, created_by"""
_LINES = msgspec.json.Decoder(list[rules.ReturnedLine])


def _of(row: asyncpg.Record) -> Return:
    r = dict(row.items())
    policy = PolicyRef(r.pop("policy_name"), r.pop("policy_version"))
    del r["seq"]
    return Return(**{**r, "lines": _LINES.decode(r["lines"]), "policy": policy})


def digest(request: ReturnRequest) -> str:
    body = msgspec.json.encode((request.order_id, request.location, request.lines))
    return hashlib.sha256(body).hexdigest()


def op_id(return_id: str, line: int) -> str:
    """The ledger op id of a line's restock: the same on every attempt."""
    plain = f"return.{return_id}.{line}"
    if len(plain) <= ID_LENGTH_MAX:
        return plain
    return f"return.{hashlib.sha256(return_id.encode()).hexdigest()[:40]}.{line}"


async def get(conn: Conn | asyncpg.Pool, return_id: str) -> Return | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM returns WHERE id = $1", return_id)
    return None if row is None else _of(row)


async def list_page(
    pool: asyncpg.Pool,
    order_id: str | None,
    location: str | None,
    bound_to: Sequence[str] | None,
    limit: int,
    after: int,
) -> tuple[list[Return], int | None]:
    """Oldest first after the cursor ``after`` (a seq); ``bound_to``: only these locations."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM returns WHERE ($1::text IS NULL OR order_id = $1)"
        " AND ($2::text IS NULL OR location = $2) AND ($3::text[] IS NULL OR location = ANY($3))"
        " AND seq > $4 ORDER BY seq LIMIT $5",
        order_id,
        location,
        None if bound_to is None else list(bound_to),
        after,
        limit + 1,
    )
    page = rows[:limit]
    more = len(rows) > limit
    return [_of(r) for r in page], (page[-1]["seq"] if more else None)


async def create(
    pool: asyncpg.Pool,
    engine: LedgerEngine,
    durability: Durability,
    request: ReturnRequest,
    actor: str = "",
    now: datetime.datetime | None = None,
) -> tuple[Return, bool]:
    """The return, and whether this call created it (False: a retry of the same one)."""
    if await unknown_ids(pool, "location", [request.location]):
        raise InvalidInput("location", "is not a location in the catalog")
    now = now or instant(engine.reservations.clock)
    async with pool.acquire() as conn, conn.transaction():
        created = await _begin(conn, request, actor, now)
    found = await get(pool, request.id)
    assert found is not None
    if found.state == "pending":  # begun here, or by a call that died: finish it
        await _finish(pool, engine, durability, found)
        found = await get(pool, request.id)
        assert found is not None
    return found, created


async def _existing(conn: Conn, request: ReturnRequest) -> bool:
    """Whether the id is taken by the same return (a retry); another body is IdReused."""
    stored = await conn.fetchval("SELECT digest FROM returns WHERE id = $1", request.id)
    if stored is None:
        return False
    if stored != digest(request):
        raise rules.IdReused(request.id)
    return True


async def _begin(conn: Conn, request: ReturnRequest, actor: str, now: datetime.datetime) -> bool:
    """Step (1): judged and inserted pending, or refused with nothing stored."""
    if await _existing(conn, request):
        return False
    order = await conn.fetchrow(
        "SELECT coalesce(picked_up_at, shipped_at) AS delivered_at"
        " FROM orders WHERE id = $1 FOR UPDATE",  # one return of an order judged at a time
        request.order_id,
    )
    if order is None:
        raise rules.OrderNotFound(request.order_id)
    if await _existing(conn, request):  # a twin held the order's lock first
        return False
    lines = await _order_lines(conn, request.order_id)
    pending = await _pending(conn, request.order_id)
    policy = await policies.in_force(conn, policies.RETURNS)
    ref = PolicyRef(policy.name, policy.version)
    name = f"{policy.name} policy v{policy.version}"
    terms = rules.terms_of(policy.terms)
    refused = rules.judge(request.lines, lines, pending, order["delivered_at"], now, terms, name)
    if refused:
        raise rules.ReturnRefused(refused, ref)
    amounts = rules.refunds(request.lines, lines, pending)
    returned = [
        rules.ReturnedLine(
            ln.sku, ln.qty, ln.reason, ln.condition, rules.disposition(ln.condition), amount
        )
        for ln, amount in zip(request.lines, amounts, strict=True)
    ]
    inserted = await conn.fetchval(
        "INSERT INTO returns (id, order_id, location, lines, digest, policy_name,"
        " policy_version, state, pending_since, refund_amount, created_by)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, 'pending', now(), $8, $9)"
        " ON CONFLICT (id) DO NOTHING RETURNING true",
        request.id,
        request.order_id,
        request.location,
        msgspec.json.encode(returned).decode(),
        digest(request),
        ref.name,
        ref.version,
        rules.total(amounts),
        actor,
    )
    # Not inserted: a twin (naming another order) was first; the same body is a retry.
    return bool(inserted) or not await _existing(conn, request)


async def _order_lines(conn: Conn, order_id: str, lock: bool = False) -> list[rules.OrderLine]:
    rows = await conn.fetch(
        "SELECT line_no, sku, delivered, returned, unit_price FROM order_lines"
        " WHERE order_id = $1 ORDER BY line_no" + (" FOR UPDATE" if lock else ""),
        order_id,
    )
    return [rules.OrderLine(*r) for r in rows]  # the columns in the Struct's order


async def _pending(conn: Conn, order_id: str) -> dict[str, int]:
    """Units of each SKU that returns begun and not yet recorded will take."""
    rows = await conn.fetch(
        "SELECT l->>'sku' AS sku, sum((l->>'qty')::int) AS qty"
        " FROM returns r, jsonb_array_elements(r.lines) l"
        " WHERE r.order_id = $1 AND r.state = 'pending' GROUP BY 1",
        order_id,
    )
    return {r["sku"]: int(r["qty"]) for r in rows}


async def _restock(engine: LedgerEngine, durability: Durability, found: Return) -> None:
    """Step (2): each sellable line back on hand where it landed, durable; idempotent."""
    for i, ln in enumerate(found.lines):
        if ln.disposition is not Disposition.restocked:
            continue
        write = functools.partial(
            engine.stock.adjust,
            ln.sku,
            found.location,
            ln.qty,
            AdjustReason.return_,
            op_id=op_id(found.id, i),
        )
        outcome = await acknowledged(durability, write)
        if not outcome.ok:  # e.g. on hand at its limit: the row stays pending, the sweep retries
            raise RuntimeError(f"return {found.id} line {i}: restock refused ({outcome.result})")


async def _record(conn: Conn, return_id: str, now: datetime.datetime) -> bool:
    """Step (3), in the caller's transaction: received, the order lines' returned counts and
    the damaged units' non-sellable count, at once; False if it was already recorded."""
    row = await conn.fetchrow(
        "UPDATE returns SET state = 'received', return_received_at = $2, pending_since = NULL"
        " WHERE id = $1 AND state = 'pending' RETURNING order_id, location, lines::text AS lines",
        return_id,
        now,
    )
    if row is None:
        return False
    lines = _LINES.decode(row["lines"])
    order = await _order_lines(conn, row["order_id"], lock=True)
    per_sku: Counter[str] = Counter()
    for ln in lines:
        per_sku[ln.sku] += ln.qty
    for sku, qty in per_sku.items():
        for line_no, units in rules.allocate(order, sku, qty):
            await conn.execute(
                "UPDATE order_lines SET returned = returned + $3"
                " WHERE order_id = $1 AND line_no = $2",
                row["order_id"],
                line_no,
                units,
            )
    for ln in lines:
        if ln.disposition is Disposition.non_sellable:
            await conn.execute(
                "INSERT INTO non_sellable_stock (sku, location, qty) VALUES ($1, $2, $3)"
                " ON CONFLICT (sku, location) DO UPDATE"
                " SET qty = non_sellable_stock.qty + EXCLUDED.qty, updated_at = now()",
                ln.sku,
                row["location"],
                ln.qty,
            )
    return True


async def _finish(
    pool: asyncpg.Pool, engine: LedgerEngine, durability: Durability, found: Return
) -> bool:
    await _restock(engine, durability, found)
    async with pool.acquire() as conn, conn.transaction():
        return await _record(conn, found.id, instant(engine.reservations.clock))


async def refund(
    pool: asyncpg.Pool, engine: LedgerEngine, durability: Durability, return_id: str
) -> Return:
    """Records refund_initiated_at once (a retry answers the same time)."""
    found = await get(pool, return_id)
    if found is None:
        raise rules.ReturnNotFound(return_id)
    if found.state == "pending":  # its receipt died half-way: finish it first
        await _finish(pool, engine, durability, found)
    await pool.execute(
        "UPDATE returns SET state = 'refund_initiated', refund_initiated_at = $2"
        " WHERE id = $1 AND state = 'received'",
        return_id,
        instant(engine.reservations.clock),
    )
    done = await get(pool, return_id)
    assert done is not None
    return done


async def resume_stale(
    pool: asyncpg.Pool, engine: LedgerEngine, durability: Durability, older_than_s: float
) -> int:
    """Finishes returns left pending longer than ``older_than_s`` (a process died between
    the steps): re-runs the idempotent restock, then the recording. Returns how many."""
    # Claimed by moving their lease on; no connection held across the restock (see handoff).
    rows = await pool.fetch(
        "UPDATE returns SET pending_since = now() WHERE id IN (SELECT id FROM returns"
        " WHERE state = 'pending' AND pending_since < now() - make_interval(secs => $1)"
        " ORDER BY pending_since LIMIT $2 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {_COLUMNS}",
        older_than_s,
        RESUME_BATCH_MAX,
    )
    done = 0
    for row in rows:
        found = _of(row)
        try:
            done += await _finish(pool, engine, durability, found)
        except Exception:  # left pending: the next sweep tries again
            log.exception("return %s could not be finished", found.id)
    return done
