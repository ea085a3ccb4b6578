"""The pickup promise before purchase, a store's pickup queue and its associates' steps
(orders/pickup_work.py)."""

import zoneinfo

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, invalid
from api.routes_orders import ERRORS, READ_ERRORS, service, shown, state_param
from api.schemas_orders import OrderPage, PickupPromise, StepBody
from atp.limits import QTY_MAX
from atp.model import Channel
from atp.validate import check_id
from orders.limits import (
    ORDERS_LISTED_MAX,
)
from orders.listing import pickup_queue
from orders.model import OPEN_AT_STORE, State, Step
from orders.pickup_promise import NoPromise, promise
from orders.views import Order


async def pickup_step(ctx: Ctx, body: StepBody | None) -> Reply:
    try:
        step = Step(ctx.path("step"))
    except ValueError:
        raise invalid("step", f"must be one of {', '.join(Step)}") from None
    bay = None if body is None else body.bay
    if bay is not None and step is not Step.arrived:
        raise invalid("bay", "only the arrived step names a bay")
    order = await service(ctx).step(ctx.path("order_id"), step, ctx.principal.key_id, bay)
    return 200, shown(ctx, order)


async def store_pickups(ctx: Ctx, _: None) -> Reply:
    """A store's pickup queue, the oldest promise first."""
    state = state_param(ctx.query().get("state"))
    states = sorted(OPEN_AT_STORE) if state is None else [state]
    async with ctx.services.pool.acquire() as conn:
        found = await pickup_queue(conn, ctx.path("location"), states, ORDERS_LISTED_MAX)
    return 200, OrderPage([shown(ctx, o) for o in found], None)


async def pickup_promise(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    sku = query.get("sku")
    if sku is None:
        raise invalid("sku", "is required")
    check_id("sku", sku)
    location = query.get("location")
    if location is None:
        raise invalid("location", "is required")
    check_id("location", location)
    qty = params.integer(query, "qty", 1, 1, QTY_MAX)
    orders = service(ctx)
    inputs = await orders.store_for_pickup(location)
    now = orders.now()
    local_today = now.astimezone(zoneinfo.ZoneInfo(inputs.store.time_zone)).date()
    day = await ctx.services.engine.availability.promise(
        sku, qty, [location], Channel.online, local_today
    )
    if day is None:
        raise ApiError(
            409,
            "no-pickup-promise",
            "Not available for pickup",
            f"{location} has fewer than {qty} of {sku} and no incoming supply covers it",
        )
    stock_from = None if day <= local_today else day
    try:
        ready = promise(
            inputs.store,
            now,
            stock_from=stock_from,
            stage_time=inputs.stage_time,
            queue_ahead=inputs.queue_ahead,
        )
    except NoPromise as exc:
        raise ApiError(409, "no-pickup-promise", "No pickup promise", str(exc)) from None
    return 200, PickupPromise(
        sku=sku,
        qty=qty,
        location=location,
        promised_at=ready.at,
        local_time=ready.local.isoformat(),
        text=ready.text,
        stock_from=stock_from,
        queue_ahead=inputs.queue_ahead,
        stage_time_s=inputs.stage_time.total_seconds(),
        stage_time_measured=inputs.stage_measured,
    )


_ORDER_ID = params.path_id("order_id")
_STEP = Param("step", "path", {"type": "string", "enum": [s.value for s in Step]}, required=True)
_ORDER_OK = {200: Order}

OPS = [
    Op(
        "POST",
        "/v1/orders/{order_id}/pickup/{step}",
        "recordPickupStep",
        "A store associate's step: picking, staged, ready, arrived (with a bay), picked_up",
        pickup_step,
        Scope.orders_write,
        _ORDER_OK,
        ERRORS,
        body=StepBody,
        body_optional=True,
        params=(_ORDER_ID, _STEP),
        idempotent=True,
        tag="pickup",
        lane=lanes.order_at_store,
        description="Each step is recorded once with its time; pressing it again answers "
        "the order as it is. A step out of order is 409 `step-out-of-order`. `ready` tells "
        "the customer (webhook `order.ready`); `picked_up` hands the units over.",
    ),
    Op(
        "GET",
        "/v1/pickup/promise",
        "getPickupPromise",
        "When a store can have a SKU ready for pickup if ordered now",
        pickup_promise,
        Scope.availability_read,
        {200: PickupPromise},
        READ_ERRORS | {409},
        params=(
            Param("sku", "query", params.id_schema("sku"), required=True),
            Param("location", "query", params.id_schema("location"), required=True),
            Param("qty", "query", {"type": "integer", "minimum": 1, "maximum": QTY_MAX}),
        ),
        tag="pickup",
        lane=lanes.anywhere,
        description="From the store's opening hours in its time zone, holidays, cut-off, "
        "its pick queue and capacity, and its measured stage time. Never outside opening "
        "hours; when the units are not there yet, incoming supply dates the promise.",
    ),
    Op(
        "GET",
        "/v1/stores/{location}/pickups",
        "listStorePickups",
        "A store's pickup queue, the earliest promise first",
        store_pickups,
        Scope.orders_read,
        {200: OrderPage},
        READ_ERRORS,
        params=(
            params.path_id("location"),
            Param("state", "query", {"type": "string", "enum": [s.value for s in State]}),
        ),
        tag="pickup",
        lane=lanes.path_location,
    ),
]
