"""Placing an order: checked, begun, routed and held through the engine's allocate, and
recorded placed with its promise; or refused with every short line and nothing stored."""

import datetime as dt
import functools
from typing import Any, Final

import msgspec

from alerts import conversions
from atp.model import Channel
from orders import customers, order_lines, prices, store
from orders.core import (
    ORDER_PLACED,
    OrdersCore,
)
from orders.errors import Refusal, bad_input, not_found
from orders.model import (
    AT_STORE,
    Method,
    State,
    digest,
    reservation_id,
)
from orders.pickup_inputs import StoreInputs
from orders.pickup_promise import NoPromise, Promise, promise, window_text
from orders.views import Customer, Order, OrderLine, PlannedLine, PlannedShipment, ShipTo
from routing import model as routing
from routing.live import AllocateResult, allocate

# A same-day order leaves its store with a courier this long after it is staged.
SAME_DAY_COURIER: Final = dt.timedelta(minutes=90)


class Draft(msgspec.Struct, frozen=True):
    """A new order as asked (api/routes_orders.py decodes and bounds it)."""

    id: str
    channel: Channel
    customer: Customer
    method: Method
    lines: list[OrderLine]
    location: str | None = None
    ship_to: ShipTo | None = None
    alert_send_id: str | None = None

    def digest(self) -> str:
        return digest(msgspec.to_builtins(self))


class Placing(OrdersCore):
    async def store_for_pickup(self, location: str | None, field: str = "location") -> StoreInputs:
        """The store a pickup or curbside order (or a promise) is for: it must exist, offer
        pickup and open within the promise horizon."""
        if location is None:
            raise bad_input(field, "a pickup or curbside order names its store")
        found = await self.pickup.get(self.pool, location, self.now())
        if found is None:
            raise bad_input(field, f"no location has the id {location}")
        if not found.offers_pickup:
            raise bad_input(field, f"{location} does not offer pickup")
        if not any(found.store.opening_hours.values()):
            raise bad_input(field, f"{location} has no opening hours: it is closed")
        return found

    async def create(self, draft: Draft, actor: str) -> tuple[bool, Order]:
        """The order placed (held), or refused with nothing stored. True when this call
        created it; a retry of the same body answers the order as it stands."""
        _check_lines(draft.lines)
        if draft.method in AT_STORE:
            await self.store_for_pickup(draft.location)
        else:
            if draft.ship_to is None:
                raise bad_input("ship_to", f"a {draft.method} order needs ship_to")
            if draft.location is not None:
                raise bad_input("location", "only pickup and curbside orders name a store")
        new = store.NewOrder(
            id=draft.id,
            channel=draft.channel.value,
            method=draft.method.value,
            location=draft.location if draft.method in AT_STORE else None,
            ship_to=draft.ship_to,
            customer=draft.customer,
            lines=draft.lines,
            reservation_id=reservation_id(draft.id),
            digest=draft.digest(),
            alert_send_id=draft.alert_send_id,
            created_by=actor,
            received_at=self.now(),
        )
        async with self.pool.acquire() as conn:
            if not await store.insert(conn, new):
                existing = await store.row(conn, draft.id)
                if existing is None:  # a racing request with this id was refused meanwhile
                    raise Refusal(
                        409,
                        "order-retry",
                        "Order refused meanwhile",
                        f"another request placing {draft.id} was just refused (nothing is "
                        "stored): send it again",
                        field="id",
                        headers={"Retry-After": "1"},
                    )
                if existing["digest"] != new.digest:
                    raise Refusal(
                        409,
                        "order-id-conflict",
                        "Order id used with another body",
                        f"order {draft.id} exists with other contents: use a new id",
                        field="id",
                    )
                if existing["pending_step"] != "create":
                    return False, await self._must(conn, draft.id)
        return await self.place(draft.id)

    def _routing_order(self, r: Any, lines: list[Any]) -> routing.Order:
        method: routing.Method
        if r["method"] in (Method.pickup, Method.curbside):
            method = routing.PickupAt(r["location"])
        else:
            to = msgspec.json.decode(r["ship_to"], type=ShipTo)
            method = routing.ShipTo(to.lat, to.lon)
        return routing.Order(
            [routing.OrderLine(ln["sku"], ln["qty"]) for ln in lines], method, Channel(r["channel"])
        )

    async def place(self, order_id: str) -> tuple[bool, Order]:
        """Steps 2 and 3 of a create: hold the order through the engine's allocate and
        record it placed, or delete it and refuse with every short line."""
        async with self.pool.acquire() as conn:
            r = await store.row(conn, order_id)
            if r is None:
                raise not_found(order_id)
            if r["pending_step"] != "create":
                return False, await self._must(conn, order_id)
            lines = await order_lines.line_rows(conn, order_id)
        directory = self._directory()
        if directory is None:
            raise Refusal(
                503,
                "no-location-directory",
                "No location directory",
                "orders are routed over the location catalog (atp import locations FILE.csv)",
            )
        order = self._routing_order(r, lines)
        rid = r["reservation_id"]
        outcome = await self._ledger(
            functools.partial(
                allocate,
                self.engine,
                rid,
                order,
                directory,
                self._policy,
                self.hold_ttl_s,
                pickload=self._pickload,
            )
        )
        if not outcome.ok:
            async with self.pool.acquire() as conn:
                await store.delete_pending(conn, order_id)
            raise _shortage(outcome.result, outcome.plan)
        plan = [
            PlannedShipment(s.location, [PlannedLine(ln.sku, ln.qty) for ln in s.lines])
            for s in outcome.plan.shipments
        ]
        if outcome.reservation is not None and outcome.result is AllocateResult.already_exists:
            plan = _plan_of_reservation(outcome.reservation.lines)
        now = self.now()
        kept = await self._promise(r, plan, r["order_received_at"])
        async with self.pool.acquire() as conn, conn.transaction():
            values: dict[str, Any] = {"shipments_plan": msgspec.json.encode(plan).decode()}
            if kept is not None:
                values |= {"promised_at": kept.at, "promise_text": kept.text}
            recorded = await store.finish(conn, order_id, "create", State.placed, values)
            if recorded:
                await _on_placed(conn, r, lines, plan, now)
            placed = await self._must(conn, order_id)
            if recorded:
                await self._publish(conn, ORDER_PLACED, placed)
        return recorded, placed

    async def _promise(
        self, r: Any, plan: list[PlannedShipment], received_at: dt.datetime
    ) -> Promise | None:
        """When a pickup, curbside or same-day order will be ready (None: shipped)."""
        method = Method(r["method"])
        if method is Method.ship or not plan:
            return None
        location = r["location"] if method in AT_STORE else plan[0].location
        found = await self.pickup.get(self.pool, location, self.now())
        if found is None:
            return None
        try:
            ready = promise(
                found.store,
                received_at,
                stage_time=found.stage_time,
                queue_ahead=found.queue_ahead,
            )
        except NoPromise:
            return None
        if method is Method.same_day:
            at = ready.at + SAME_DAY_COURIER
            zone = ready.local.tzinfo
            assert zone is not None
            local = at.astimezone(zone)
            return Promise(at, local, "delivered " + window_text(local, received_at, zone))
        return ready


def _check_lines(lines: list[OrderLine]) -> None:
    seen: set[str] = set()
    for i, ln in enumerate(lines):
        if ln.sku in seen:
            raise bad_input(f"lines[{i}].sku", f"{ln.sku} appears twice: one line per SKU")
        seen.add(ln.sku)


async def _on_placed(
    conn: Any, r: Any, lines: list[Any], plan: list[PlannedShipment], now: dt.datetime
) -> None:
    """What follows an order placed, in the transaction recording it: its step, the alert
    it may convert, the customer it joins, and a price check of each priced line."""
    order_id = r["id"]
    await store.record_step(conn, order_id, "placed", now, r["created_by"])
    skus = [ln["sku"] for ln in lines]
    email, phone = r["customer_email"], r["customer_phone"]
    await conversions.record_order(conn, order_id, email, phone, skus, r["alert_send_id"], now)
    await customers.attach(
        conn, customer_id=r["customer_id"], email=email, phone=phone, name=r["customer_name"]
    )
    sourced = {ln.sku: s.location for s in reversed(plan) for ln in s.lines}
    for ln in lines:
        if ln["unit_price"] is not None:
            await prices.check_sale(
                conn,
                sku=ln["sku"],
                channel=r["channel"],
                where=order_id,
                location=sourced.get(ln["sku"], r["location"] or ""),
                sold_price=ln["unit_price"],
                currency=None,
                at=r["order_received_at"],
            )


def _plan_of_reservation(lines: list[Any]) -> list[PlannedShipment]:
    by_location: dict[str, list[PlannedLine]] = {}
    for ln in lines:
        by_location.setdefault(ln.location, []).append(PlannedLine(ln.sku, ln.qty))
    return [PlannedShipment(loc, found) for loc, found in sorted(by_location.items())]


def _shortage(result: AllocateResult, plan: routing.Plan) -> Refusal:
    if result in (AllocateResult.conflict, AllocateResult.aborted):
        return Refusal(
            409,
            "order-id-conflict",
            "Order id cannot be used",
            "an earlier attempt with this order id was abandoned: use a new id",
            field="id",
        )
    short = [msgspec.to_builtins(u) for u in plan.uncovered]
    names = ", ".join(f"{u['sku']} (short {u['short']})" for u in short)
    detail = f"not enough stock for every line: {names}" if short else "no location can fill it"
    headers = {"Retry-After": "1"} if result is AllocateResult.raced_out else None
    return Refusal(
        409,
        "insufficient-stock",
        "Not enough stock for the order",
        detail + "; nothing was held or stored",
        field="lines",
        lines=short,
        headers=headers,
    )
