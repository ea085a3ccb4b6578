"""Shipping: units of a confirmed order leave a location with a carrier, partial
shipments allowed, each recorded once by its id."""

import functools

import msgspec

from durability.history import settle
from orders import order_lines, store
from orders.core import ORDER_SHIPPED, OrdersCore, illegal
from orders.errors import Refusal, bad_input
from orders.model import (
    AT_STORE,
    SHIPPABLE,
    State,
    digest,
    op_id,
)
from orders.views import Order, PlannedLine
from reservations.model import Line


class NewShipment(msgspec.Struct, frozen=True):
    id: str
    location: str
    lines: list[PlannedLine]
    carrier: str
    tracking: str


class Shipping(OrdersCore):
    async def ship(self, order_id: str, shipment: NewShipment, actor: str) -> tuple[bool, Order]:
        """Units of a confirmed order leave ``shipment.location`` (partial shipments
        allowed); recorded once per shipment id."""
        body = digest(msgspec.to_builtins(shipment))
        async with self.pool.acquire() as conn:
            found = await self._must(conn, order_id)
            existing = await conn.fetchrow(
                "SELECT digest, state FROM shipments WHERE order_id = $1 AND id = $2",
                order_id,
                shipment.id,
            )
            if existing is not None:
                if existing["digest"] != body:
                    raise Refusal(
                        409,
                        "shipment-id-conflict",
                        "Shipment id used with another body",
                        f"shipment {shipment.id} of order {order_id} has other contents",
                        field="id",
                    )
                if existing["state"] == "shipped":
                    return False, found
            else:
                if found.method in AT_STORE:
                    raise Refusal(
                        409,
                        "not-a-shipped-order",
                        "Not a shipped order",
                        f"order {order_id} is collected at {found.location}: use its pickup steps",
                    )
                if found.state not in SHIPPABLE or found.pending_step is not None:
                    raise illegal(found, "ship")
                _check_shipment(found, shipment)
                await conn.execute(
                    "INSERT INTO shipments (order_id, id, location, lines, carrier, tracking,"
                    " digest, state, pending_since, created_by)"
                    " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, 'pending', $8, $9)",
                    order_id,
                    shipment.id,
                    shipment.location,
                    msgspec.json.encode(shipment.lines).decode(),
                    shipment.carrier,
                    shipment.tracking,
                    body,
                    self.now(),
                    actor,
                )
        return True, await self.finish_shipment(order_id, shipment.id, actor)

    async def finish_shipment(self, order_id: str, shipment_id: str, actor: str) -> Order:
        async with self.pool.acquire() as conn:
            r = await store.row(conn, order_id)
            s = await conn.fetchrow(
                "SELECT location, lines::text AS lines FROM shipments"
                " WHERE order_id = $1 AND id = $2",
                order_id,
                shipment_id,
            )
        assert r is not None and s is not None
        rid = r["reservation_id"]
        lines = msgspec.json.decode(s["lines"], type=list[PlannedLine])
        ledger_lines = [Line(ln.sku, s["location"], ln.qty) for ln in lines]
        done = await self._ledger(
            functools.partial(
                settle,
                self.engine.reservations,
                self.pool,
                rid,
                "fulfilled",
                ledger_lines,
                op_id=op_id(order_id, "ship", shipment_id),
            )
        )
        if not done.ok:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "DELETE FROM shipments WHERE order_id = $1 AND id = $2 AND state = 'pending'",
                    order_id,
                    shipment_id,
                )
            raise Refusal(
                409,
                "shipment-exceeds-order",
                "More than the order holds there",
                f"the ledger refused the shipment ({done.result}): {done.detail}",
                field="lines",
            )
        now = self.now()
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE shipments SET state = 'shipped', shipped_at = $3, pending_since = NULL"
                " WHERE order_id = $1 AND id = $2 AND state = 'pending'",
                order_id,
                shipment_id,
                now,
            )
            recorded = not status.endswith(" 0")
            if recorded:
                units: dict[str, int] = {}
                for ln in lines:
                    units[ln.sku] = units.get(ln.sku, 0) + ln.qty
                await order_lines.deliver(conn, order_id, units)
                left = await conn.fetchval(
                    "SELECT coalesce(sum(qty - delivered), 0) FROM order_lines WHERE order_id = $1",
                    order_id,
                )
                state = State.shipped if left == 0 else State.partially_shipped
                await conn.execute(
                    "UPDATE orders SET state = $2, shipped_at = coalesce(shipped_at, $3),"
                    " updated_at = now() WHERE id = $1",
                    order_id,
                    state.value,
                    now,
                )
                await store.record_step(conn, order_id, f"shipment:{shipment_id}", now, actor)
            shipped = await self._must(conn, order_id)
            if recorded:
                await self._publish(conn, ORDER_SHIPPED, shipped, shipment=shipment_id)
            return shipped


def _check_shipment(found: Order, shipment: NewShipment) -> None:
    ordered = {ln.sku: ln.qty - ln.delivered for ln in found.lines}
    seen: set[str] = set()
    for i, ln in enumerate(shipment.lines):
        if ln.sku not in ordered:
            raise bad_input(f"lines[{i}].sku", f"order {found.id} has no line for {ln.sku}")
        if ln.sku in seen:
            raise bad_input(f"lines[{i}].sku", f"{ln.sku} appears twice")
        seen.add(ln.sku)
        if ln.qty > ordered[ln.sku]:
            raise Refusal(
                409,
                "shipment-exceeds-order",
                "More than the order has left to ship",
                f"lines[{i}].qty: {ln.qty} of {ln.sku} asked, {ordered[ln.sku]} left to ship",
                field=f"lines[{i}].qty",
            )
