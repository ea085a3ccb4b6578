"""Orders in PostgreSQL (migrations/0011_orders.sql): insert, read, list and the
conditional updates each step records with. Every update that finishes a step names the
state and pending step it expects, so two processes (a request and the recovery sweep, or
two associates) record it once."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from atp.model import Channel
from durability.db import Conn
from orders.model import Method, State
from orders.views import (
    Customer,
    Order,
    OrderLine,
    PlannedLine,
    PlannedShipment,
    Shipment,
    ShipTo,
    StepRecord,
)

COLUMNS = """
o.id, o.seq, o.state, o.channel, o.method, o.location, o.ship_to::text AS ship_to,
o.customer_id, o.customer_email, o.customer_phone, o.customer_name, o.reservation_id,
o.digest, o.pending_step, o.pending_since, o.pending_detail::text AS pending_detail,
o.shipments_plan::text AS shipments_plan, o.alert_send_id, o.created_by,
o.order_received_at, o.promised_at, o.promise_text, o.confirmed_at, o.cancelled_at,
o.expired_at, o.picking_at, o.staged_at, o.ready_at, o.arrived_at, o.bay, o.picked_up_at,
o.no_show_at, o.shipped_at
"""
_GET = f"SELECT {COLUMNS} FROM orders o WHERE o.id = $1"
_LINES = """
SELECT order_id, sku, qty, unit_price, delivered, returned FROM order_lines
WHERE order_id = ANY($1::text[]) ORDER BY order_id, line_no
"""
_SHIPMENTS = """
SELECT order_id, id, location, lines::text AS lines, carrier, tracking, shipped_at
FROM shipments WHERE order_id = ANY($1::text[]) ORDER BY order_id, shipped_at NULLS LAST, id
"""
# The order and its lines in one statement (one round trip, atomic); no line inserted
# means the id exists.
_INSERT = """
WITH o AS (
    INSERT INTO orders (id, channel, method, location, ship_to, customer_id, customer_email,
        customer_phone, customer_name, reservation_id, digest, state, pending_step,
        pending_since, alert_send_id, created_by, order_received_at)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, 'pending', 'create', $12,
        $13, $14, $12)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
INSERT INTO order_lines (order_id, line_no, sku, qty, unit_price)
SELECT o.id, l.no, l.sku, l.qty, l.price
FROM o, unnest($15::int[], $16::text[], $17::int[], $18::numeric[]) AS l(no, sku, qty, price)
"""
_STEP = """
INSERT INTO order_steps (order_id, step, at, actor, detail) VALUES ($1, $2, $3, $4, $5::jsonb)
ON CONFLICT (order_id, step) DO NOTHING
"""

# One order with its lines, shipments and steps in one round trip.
_ONE = f"""
SELECT {COLUMNS},
    (SELECT coalesce(json_agg(json_build_object('sku', l.sku, 'qty', l.qty,
            'unit_price', l.unit_price::text, 'delivered', l.delivered,
            'returned', l.returned) ORDER BY l.line_no), '[]')
     FROM order_lines l WHERE l.order_id = o.id)::text AS lines_json,
    (SELECT coalesce(json_agg(json_build_object('id', s.id, 'location', s.location,
            'lines', s.lines, 'carrier', s.carrier, 'tracking', s.tracking,
            'shipped_at', s.shipped_at) ORDER BY s.shipped_at NULLS LAST, s.id), '[]')
     FROM shipments s WHERE s.order_id = o.id)::text AS shipped_json,
    (SELECT coalesce(json_agg(json_build_object('step', t.step, 'at', t.at,
            'actor', t.actor) ORDER BY t.seq), '[]')
     FROM order_steps t WHERE t.order_id = o.id)::text AS steps_json
FROM orders o WHERE o.id = $1
"""
_PLAN = msgspec.json.Decoder(list[PlannedShipment])
_ORDER_LINES = msgspec.json.Decoder(list[OrderLine])
_SHIPPED = msgspec.json.Decoder(list[Shipment])
_STEP_RECORDS = msgspec.json.Decoder(list[StepRecord])
_LINES_JSON = msgspec.json.Decoder(list[Any])
_SHIP_TO = msgspec.json.Decoder(ShipTo)


class NewOrder(msgspec.Struct, frozen=True):
    id: str
    channel: str
    method: str
    location: str | None
    ship_to: ShipTo | None
    customer: Customer
    lines: list[OrderLine]
    reservation_id: str
    digest: str
    alert_send_id: str | None
    created_by: str
    received_at: dt.datetime


async def insert(conn: Conn, new: NewOrder) -> bool:
    """The order begun (state pending, step create) with its lines; False when the id exists."""
    ship_to = None if new.ship_to is None else msgspec.json.encode(new.ship_to).decode()
    c = new.customer
    status = await conn.execute(
        _INSERT,
        new.id,
        new.channel,
        new.method,
        new.location,
        ship_to,
        c.id,
        c.email,
        c.phone,
        c.name,
        new.reservation_id,
        new.digest,
        new.received_at,
        new.alert_send_id,
        new.created_by,
        list(range(1, len(new.lines) + 1)),
        [ln.sku for ln in new.lines],
        [ln.qty for ln in new.lines],
        [ln.unit_price for ln in new.lines],
    )
    return not status.endswith(" 0")


async def row(conn: Conn, order_id: str) -> Any:
    return await conn.fetchrow(_GET, order_id)


async def record_step(
    conn: Conn, order_id: str, step: str, at: dt.datetime, actor: str, detail: Any = None
) -> None:
    text = None if detail is None else msgspec.json.encode(detail).decode()
    await conn.execute(_STEP, order_id, step, at, actor, text)


async def begin(
    conn: Conn,
    order_id: str,
    step: str,
    from_states: Sequence[State],
    at: dt.datetime,
    detail: Any = None,
) -> bool:
    """Marks ``step`` begun on an order in one of ``from_states`` with nothing else begun."""
    text = None if detail is None else msgspec.json.encode(detail).decode()
    status = await conn.execute(
        "UPDATE orders SET pending_step = $2, pending_since = $3, pending_detail = $5::jsonb,"
        " updated_at = now() WHERE id = $1 AND pending_step IS NULL AND state = ANY($4::text[])",
        order_id,
        step,
        at,
        [s.value for s in from_states],
        text,
    )
    return not status.endswith(" 0")


async def finish(
    conn: Conn, order_id: str, step: str, state: State, values: dict[str, Any] | None = None
) -> bool:
    """Records a begun step done: the new state and the columns given, once."""
    values = values or {}
    names = list(values)
    sets = "".join(f", {name} = ${i}" for i, name in enumerate(names, start=4))
    status = await conn.execute(
        f"UPDATE orders SET state = $3, pending_step = NULL, pending_since = NULL,"
        f" pending_detail = NULL, updated_at = now(){sets}"
        " WHERE id = $1 AND pending_step = $2",
        order_id,
        step,
        state.value,
        *values.values(),
    )
    return not status.endswith(" 0")


async def abandon(conn: Conn, order_id: str, step: str) -> None:
    """A begun step the ledger refused: the order stays as it was before it."""
    await conn.execute(
        "UPDATE orders SET pending_step = NULL, pending_since = NULL, pending_detail = NULL,"
        " updated_at = now() WHERE id = $1 AND pending_step = $2",
        order_id,
        step,
    )


async def set_state(
    conn: Conn, order_id: str, from_states: Sequence[State], state: State, values: dict[str, Any]
) -> bool:
    """A step without a ledger write (picking, staged, ready, arrived): one conditional
    update."""
    names = list(values)
    sets = "".join(f", {name} = ${i}" for i, name in enumerate(names, start=4))
    status = await conn.execute(
        f"UPDATE orders SET state = $3, updated_at = now(){sets}"
        " WHERE id = $1 AND pending_step IS NULL AND state = ANY($2::text[])",
        order_id,
        [s.value for s in from_states],
        state.value,
        *values.values(),
    )
    return not status.endswith(" 0")


async def delete_pending(conn: Conn, order_id: str) -> None:
    """An order whose create was refused (a shortage): it never existed."""
    await conn.execute(
        "DELETE FROM orders WHERE id = $1 AND state = 'pending' AND pending_step = 'create'",
        order_id,
    )


async def one(conn: Conn, order_id: str) -> Order | None:
    """An order with its lines, shipments and steps, in one query."""
    r = await conn.fetchrow(_ONE, order_id)
    if r is None:
        return None
    lines = _ORDER_LINES.decode(r["lines_json"])
    return _order(
        r, lines, _SHIPPED.decode(r["shipped_json"]), _STEP_RECORDS.decode(r["steps_json"])
    )


async def orders(conn: Conn, rows: Sequence[Any]) -> list[Order]:
    """Rows of ``orders`` as Orders, with their lines and shipments (not their steps: a
    list answers many; GET one for its steps)."""
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    lines: dict[str, list[OrderLine]] = {i: [] for i in ids}
    for ln in await conn.fetch(_LINES, ids):
        price = ln["unit_price"]
        lines[ln["order_id"]].append(
            OrderLine(
                ln["sku"],
                ln["qty"],
                None if price is None else Decimal(price),
                ln["delivered"],
                ln["returned"],
            )
        )
    shipped: dict[str, list[Shipment]] = {i: [] for i in ids}
    for s in await conn.fetch(_SHIPMENTS, ids):
        shipped[s["order_id"]].append(
            Shipment(
                s["id"],
                s["location"],
                msgspec.json.decode(s["lines"], type=list[PlannedLine]),
                s["carrier"],
                s["tracking"],
                s["shipped_at"],
            )
        )
    return [_order(r, lines[r["id"]], shipped[r["id"]], []) for r in rows]


def _order(
    r: Any, lines: list[OrderLine], shipped: list[Shipment], steps: list[StepRecord]
) -> Order:
    return Order(
        id=r["id"],
        state=State(r["state"]),
        channel=Channel(r["channel"]),
        method=Method(r["method"]),
        location=r["location"],
        ship_to=None if r["ship_to"] is None else _SHIP_TO.decode(r["ship_to"]),
        customer=Customer(
            r["customer_id"], r["customer_email"], r["customer_phone"], r["customer_name"]
        ),
        lines=lines,
        reservation_id=r["reservation_id"],
        shipments=_PLAN.decode(r["shipments_plan"]),
        shipped=shipped,
        order_received_at=r["order_received_at"],
        promised_at=r["promised_at"],
        promise_text=r["promise_text"],
        confirmed_at=r["confirmed_at"],
        cancelled_at=r["cancelled_at"],
        expired_at=r["expired_at"],
        picking_at=r["picking_at"],
        staged_at=r["staged_at"],
        ready_at=r["ready_at"],
        arrived_at=r["arrived_at"],
        bay=r["bay"],
        picked_up_at=r["picked_up_at"],
        no_show_at=r["no_show_at"],
        shipped_at=r["shipped_at"],
        pending_step=r["pending_step"],
        created_by=r["created_by"],
        steps=steps,
    )
