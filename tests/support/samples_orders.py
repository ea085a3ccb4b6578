"""Samples of the orders and pickup routes for the route table (support/routes_table.py):
each route with its request and who may make it, and the world they act in (at store S1).

Placing an order is the endless aisle: any key with orders:write, a register too, on its
own channel. Acting on an order is for keys at its pickup store (or that created it), and
the store's pickup work for keys at that store. Each order sample has its own order, made
by the admin key, collected at S1."""

from typing import Any

import asyncpg
import msgspec

from api.wiring import Services
from atp.model import Channel
from orders.model import Method
from orders.service import Draft
from orders.views import Customer, OrderLine, ShipTo
from support.route_sample import DENIED, Sample, expect

ORDERS = expect(storefront=DENIED, register_b=DENIED)
ALL_WEEK = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _placed(kind: str) -> dict[str, Any]:
    channel = "store" if kind.startswith("register") else "online"
    return {
        "id": f"ord-new-{kind}",
        "channel": channel,
        "method": "pickup",
        "location": "S1",
        "lines": [{"sku": "A", "qty": 1}],
    }


_SHIPMENT = {
    "location": "S1",
    "lines": [{"sku": "A", "qty": 1}],
    "carrier": "posten",
    "tracking": "TRK-1",
}

SAMPLES: dict[str, Any] = {
    # Any orders:write key may place one, anywhere (register_b too: the endless aisle).
    "createOrder": Sample({}, _placed, expect=expect(storefront=DENIED)),
    "listOrders": Sample({}, query="location=S1", expect=expect(storefront=DENIED)),
    "getOrder": Sample({"order_id": "ord-get"}, expect=ORDERS),
    "confirmOrder": Sample({"order_id": "ord-confirm"}, expect=ORDERS),
    "cancelOrder": Sample({"order_id": "ord-cancel"}, expect=ORDERS),
    "recordPickupStep": Sample({"order_id": "ord-step", "step": "picking"}, expect=ORDERS),
    "shipOrder": Sample({"order_id": "ord-ship"}, _SHIPMENT, expect=ORDERS),
    "getPickupPromise": Sample({}, query="sku=A&qty=1&location=S1", expect=expect()),
    "listStorePickups": Sample({"location": "S1"}, expect=ORDERS),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """S1 open all week; an order per sample, collected at S1 (shipped from it for the
    shipment sample), the step and shipment ones paid."""
    await pool.execute(
        "UPDATE locations SET opening_hours = $1::jsonb WHERE id = 'S1'",
        msgspec.json.encode(ALL_WEEK).decode(),
    )
    orders = services.orders
    assert orders is not None
    line = [OrderLine("A", 1)]
    for order_id in ("ord-get", "ord-confirm", "ord-cancel", "ord-step"):
        draft = Draft(order_id, Channel.online, Customer(), Method.pickup, line, location="S1")
        await orders.create(draft, "admin")
    await orders.confirm("ord-step", "admin")  # paid: picking may follow
    # Shipped from S1's shelves (ship-from-store): S1's register may ship it.
    to = ShipTo(59.91, 10.75)
    ship = Draft("ord-ship", Channel.online, Customer(), Method.ship, line, ship_to=to)
    created, order = await orders.create(ship, "admin")
    assert created and order.shipments[0].location == "S1", order
    await orders.confirm("ord-ship", "admin")
