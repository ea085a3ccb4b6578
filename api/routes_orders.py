"""Orders (orders/service.py): place one (routed and held through the engine's allocate),
confirm, cancel, read and list; the pickup promise before purchase; a store's pickup queue
and its associates' steps; shipments.

Who may act on an order: a key bound to stores creates orders anywhere (the endless aisle)
and acts on those at its stores or that it created; customer contact details are left out
of what such a key reads.
"""

from msgspec import structs

from alerts import rules
from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import invalid
from api.schemas_orders import OrderBody, OrderPage, ShipmentBody
from atp.model import InvalidInput
from atp.validate import check_id
from orders.errors import not_found
from orders.limits import (
    ORDERS_LISTED_MAX,
)
from orders.listing import Filters, listed
from orders.model import State
from orders.service import Draft, NewShipment, Orders
from orders.views import Customer, Order, OrderLine, PlannedLine, ShipTo

ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429, 503})
READ_ERRORS = frozenset({401, 403, 404, 422, 429})


def service(ctx: Ctx) -> Orders:
    orders = ctx.services.orders
    assert orders is not None
    return orders


def shown(ctx: Ctx, order: Order) -> Order:
    """A key bound to stores never reads a customer's contact details."""
    if ctx.principal.locations is None:
        return order
    return structs.replace(order, customer=Customer(name=order.customer.name))


# -- lanes --------------------------------------------------------------------------------


# -- handlers -----------------------------------------------------------------------------


def _draft(body: OrderBody) -> Draft:
    c = body.customer
    try:
        email = None if c.email is None else rules.email(c.email)
        phone = None if c.phone is None else rules.phone(c.phone)
    except InvalidInput as exc:
        raise invalid("customer." + exc.field.rpartition(".")[2], exc.message) from None
    for i, ln in enumerate(body.lines):
        if ln.unit_price is not None and (not ln.unit_price.is_finite() or ln.unit_price < 0):
            raise invalid(f"lines[{i}].unit_price", "must be a price of 0 or more")
    to = body.ship_to
    return Draft(
        id=body.id,
        channel=body.channel,
        customer=Customer(c.id, email, phone, c.name),
        method=body.method,
        lines=[OrderLine(ln.sku, ln.qty, ln.unit_price) for ln in body.lines],
        location=body.location,
        ship_to=None if to is None else ShipTo(to.lat, to.lon, to.postcode),
        alert_send_id=body.alert_send_id,
    )


async def create(ctx: Ctx, body: OrderBody) -> Reply:
    created, order = await service(ctx).create(_draft(body), ctx.principal.key_id)
    return (201 if created else 200), shown(ctx, order)


async def get(ctx: Ctx, _: None) -> Reply:
    order_id = ctx.path("order_id")
    found = await service(ctx).get(order_id)
    if found is None:
        raise not_found(order_id)
    return 200, shown(ctx, found)


async def confirm(ctx: Ctx, _: None) -> Reply:
    order = await service(ctx).confirm(ctx.path("order_id"), ctx.principal.key_id)
    return 200, shown(ctx, order)


async def cancel(ctx: Ctx, _: None) -> Reply:
    order = await service(ctx).cancel(ctx.path("order_id"), ctx.principal.key_id)
    return 200, shown(ctx, order)


async def ship(ctx: Ctx, body: ShipmentBody) -> Reply:
    shipment = NewShipment(
        id=body.id or body.tracking,
        location=body.location,
        lines=[PlannedLine(ln.sku, ln.qty) for ln in body.lines],
        carrier=body.carrier,
        tracking=body.tracking,
    )
    if body.id is None:
        try:
            check_id("tracking", body.tracking)
        except InvalidInput:
            raise invalid("id", "give an id: the tracking number is not a usable id") from None
    created, order = await service(ctx).ship(ctx.path("order_id"), shipment, ctx.principal.key_id)
    return (201 if created else 200), shown(ctx, order)


def _cursor(text: str | None) -> int:
    if not text:
        return 0
    if not text.isdigit() or len(text) > 19:
        raise invalid("cursor", "is not a cursor this API returned")
    return int(text)


def state_param(text: str | None) -> State | None:
    if text is None:
        return None
    try:
        return State(text)
    except ValueError:
        raise invalid("state", f"must be one of {', '.join(State)}") from None


async def list_(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    customer = query.get("customer")
    if customer is not None:
        check_id("customer", customer)
    email, phone = query.get("email"), query.get("phone")
    try:
        email = None if email is None else rules.email(email)
        phone = None if phone is None else rules.phone(phone)
    except InvalidInput as exc:
        raise invalid(exc.field.rpartition(".")[2], exc.message) from None
    location = query.get("location")
    if location is not None:
        check_id("location", location)
    limit = params.integer(query, "limit", 50, 1, ORDERS_LISTED_MAX)
    bound = ctx.principal.locations
    # A store finds any order by its customer's contact (a return from another channel);
    # otherwise it lists the orders at its stores and those it created.
    lookup = email is not None or phone is not None
    filters = Filters(
        customer=customer,
        email=email,
        phone=phone,
        location=location,
        state=state_param(query.get("state")),
        within=None if bound is None or lookup else bound,
        created_by=ctx.principal.key_id,
    )
    async with ctx.services.pool.acquire() as conn:
        found, after = await listed(conn, filters, _cursor(query.get("cursor")), limit)
    items = [shown(ctx, o) for o in found]
    return 200, OrderPage(items, None if after is None else str(after))


_ORDER_ID = params.path_id("order_id")
_ORDER_OK = {200: Order}

OPS = [
    Op(
        "POST",
        "/v1/orders",
        "createOrder",
        "Place an order: routed and held through the engine, with a pickup promise",
        create,
        Scope.orders_write,
        {201: Order, 200: Order},
        ERRORS,
        body=OrderBody,
        idempotent=True,
        tag="orders",
        lane=lanes.order_channel,
        description="Idempotent by `id`: the same body again answers the order (200); "
        "another body is 409 `order-id-conflict`. A shortage is 409 `insufficient-stock` "
        "listing every short line with its back-order date, and stores nothing. Pickup "
        "and curbside orders name a store that offers pickup and get `promised_at` and "
        "`promise_text`; the hold is released unless confirmed within the order hold.",
    ),
    Op(
        "GET",
        "/v1/orders",
        "listOrders",
        "Orders by customer id, email or phone, store or state (oldest first)",
        list_,
        Scope.orders_read,
        {200: OrderPage},
        READ_ERRORS,
        params=(
            Param("customer", "query", params.id_schema("customer"), "a customer id"),
            Param("email", "query", {"type": "string", "maxLength": 254}),
            Param("phone", "query", {"type": "string", "maxLength": 32}),
            Param("location", "query", params.id_schema("location"), "the pickup store"),
            Param("state", "query", {"type": "string", "enum": [s.value for s in State]}),
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200}),
            Param("cursor", "query", {"type": "string", "maxLength": 20}),
        ),
        tag="orders",
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/orders/{order_id}",
        "getOrder",
        "An order with its lines, holds, shipments, promise and steps",
        get,
        Scope.orders_read,
        _ORDER_OK,
        READ_ERRORS,
        params=(_ORDER_ID,),
        tag="orders",
        lane=lanes.order_at_key,
    ),
    Op(
        "POST",
        "/v1/orders/{order_id}/confirm",
        "confirmOrder",
        "Payment captured: the order's hold is committed",
        confirm,
        Scope.orders_write,
        _ORDER_OK,
        ERRORS - {400, 413, 415},
        params=(_ORDER_ID,),
        idempotent=True,
        tag="orders",
        lane=lanes.order_at_key,
        description="409 `hold-expired` when the hold ran out first (the order is expired).",
    ),
    Op(
        "POST",
        "/v1/orders/{order_id}/cancel",
        "cancelOrder",
        "Cancel an order: whatever it still holds goes back to availability",
        cancel,
        Scope.orders_write,
        _ORDER_OK,
        ERRORS - {400, 413, 415},
        params=(_ORDER_ID,),
        idempotent=True,
        tag="orders",
        lane=lanes.order_at_key,
    ),
    Op(
        "POST",
        "/v1/orders/{order_id}/shipments",
        "shipOrder",
        "Units of a confirmed order leave a location with a carrier (partial allowed)",
        ship,
        Scope.orders_write,
        {201: Order, 200: Order},
        ERRORS,
        body=ShipmentBody,
        params=(_ORDER_ID,),
        idempotent=True,
        tag="orders",
        lane=lanes.shipment,
    ),
]
