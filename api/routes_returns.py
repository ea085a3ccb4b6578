"""Return anywhere (orders/returns.py): take a return of an order from any channel at any
store, read returns, and record the refund as initiated. A key bound to stores takes
returns at its own stores and sees only the returns taken there."""

from typing import Annotated, Any

from msgspec import Meta

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, FieldError, invalid
from api.schemas import Id, LocationId, Quantity, Request, Response, SkuId
from atp.validate import check_id
from orders import returns
from orders.return_rules import (
    RETURN_LINES_MAX,
    Condition,
    IdReused,
    OrderNotFound,
    Refused,
    Return,
    ReturnLine,
    ReturnNotFound,
    ReturnReason,
    ReturnRefused,
    ReturnRequest,
)

ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})
READ_ERRORS = frozenset({401, 403, 404, 422, 429})

# How each refusal of orders/return_rules.py is answered: a wrong body is 422, what the
# order or the policy does not allow is 409.
REFUSALS: dict[Refused, tuple[int, str, str]] = {
    Refused.unknown_reason: (422, "invalid-input", "Invalid input"),
    Refused.unknown_condition: (422, "invalid-input", "Invalid input"),
    Refused.sku_not_on_order: (422, "invalid-input", "Invalid input"),
    Refused.over_return: (409, "over-return", "More than was delivered"),
    Refused.not_delivered: (409, "not-eligible", "Not eligible for return"),
    Refused.outside_window: (409, "not-eligible", "Not eligible for return"),
    Refused.condition_not_accepted: (409, "not-eligible", "Not eligible for return"),
}


class ReturnLineBody(Request, frozen=True):
    sku: SkuId
    qty: Quantity
    reason: ReturnReason
    condition: Condition


class ReturnBody(Request, frozen=True):
    id: Id
    order_id: Id
    location: LocationId
    lines: Annotated[list[ReturnLineBody], Meta(min_length=1, max_length=RETURN_LINES_MAX)]


class ReturnPage(Response, frozen=True):
    items: list[Return]  # oldest first
    next_cursor: str | None  # pass as cursor for the next page


def _refused(exc: ReturnRefused) -> ApiError:
    status, slug, title = REFUSALS[exc.refusals[0].kind]
    errors = [FieldError(r.field, r.message) for r in exc.refusals]
    first = exc.refusals[0]
    detail = f"{first.field}: {first.message}"
    if status == 409:
        detail += f" (judged by the {exc.policy.name} policy v{exc.policy.version})"
    return ApiError(status, slug, title, detail, errors=errors)


def _not_found(return_id: str) -> ApiError:
    return ApiError(404, "return-not-found", "No such return", f"no return has the id {return_id}")


async def create(ctx: Ctx, body: ReturnBody) -> Reply:
    lines = [ReturnLine(ln.sku, ln.qty, ln.reason.value, ln.condition.value) for ln in body.lines]
    request = ReturnRequest(body.id, body.order_id, body.location, lines)
    services = ctx.services
    try:
        found, created = await returns.create(
            services.pool, services.engine, services.durability, request, ctx.principal.key_id
        )
    except OrderNotFound:
        message = f"no order has the id {body.order_id}"
        raise ApiError(
            404,
            "order-not-found",
            "No such order",
            message,
            errors=[FieldError("order_id", message)],
        ) from None
    except IdReused:
        message = f"return {body.id} exists with another body"
        raise ApiError(
            409,
            "return-conflict",
            "Return id used with another body",
            message,
            errors=[FieldError("id", message)],
        ) from None
    except ReturnRefused as exc:
        raise _refused(exc) from None
    return (201 if created else 200), found


async def get(ctx: Ctx, _: None) -> Reply:
    return_id = ctx.path("id")
    found = await returns.get(ctx.services.pool, return_id)
    if found is None:
        raise _not_found(return_id)
    return 200, found


async def list_(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    order_id, location = query.get("order_id"), query.get("location")
    for name, value in (("order_id", order_id), ("location", location)):
        if value is not None:
            check_id(name, value)
    limit = params.integer(query, "limit", 20, 1, returns.LISTED_MAX)
    cursor = query.get("cursor") or "0"
    if not cursor.isdigit() or len(cursor) > 18:
        raise invalid("cursor", "is not a cursor this API returned")
    bound = ctx.principal.locations
    page, after = await returns.list_page(
        ctx.services.pool,
        order_id,
        location,
        None if bound is None else sorted(bound),
        limit,
        int(cursor),
    )
    return 200, ReturnPage(page, None if after is None else str(after))


async def refund(ctx: Ctx, _: None) -> Reply:
    return_id, services = ctx.path("id"), ctx.services
    try:
        found = await returns.refund(services.pool, services.engine, services.durability, return_id)
    except ReturnNotFound:
        raise _not_found(return_id) from None
    return 200, found


async def return_location(ctx: Any, body: Any) -> None:
    """A return is its location's: a key bound to stores reads and refunds only those taken
    there (an unknown id passes: the route answers 404)."""
    if ctx.principal.locations is None:
        return
    found = await returns.get(ctx.services.pool, ctx.path("id"))
    if found is not None:
        ctx.principal.confine([found.location])


_ID = params.path_id("id", "the return's id")
_LIMIT: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": returns.LISTED_MAX,
    "default": 20,
}

OPS = [
    Op(
        "POST",
        "/v1/returns",
        "createReturn",
        "Take a return of an order from any channel at this location",
        create,
        Scope.orders_write,
        {201: Return, 200: Return},
        ERRORS,
        body=ReturnBody,
        idempotent=True,
        tag="returns",
        lane=lanes.body_location,
        description="Judged against the returns policy in force (named in the answer): "
        "within its window from delivery, in a condition it accepts for the reason. "
        "Sellable units are restocked at `location` as the return is recorded; damaged "
        "ones are counted as non-sellable there. Returning more than was delivered "
        "(less what was already returned) is 409. A retry with the same `id` and body "
        "answers 200 with the same return.",
    ),
    Op(
        "GET",
        "/v1/returns",
        "listReturns",
        "Returns, oldest first: of an order, or taken at a location",
        list_,
        Scope.orders_read,
        {200: ReturnPage},
        READ_ERRORS - {404},
        params=(
            Param("order_id", "query", params.ID_SCHEMA, "only this order's returns"),
            Param("location", "query", params.id_schema("location"), "only returns taken here"),
            Param("limit", "query", _LIMIT, "returns to answer (default 20)"),
            Param("cursor", "query", {"type": "string"}, "next_cursor of the previous page"),
        ),
        tag="returns",
        lane=lanes.anywhere,  # a key bound to stores is answered only its stores' returns
    ),
    Op(
        "GET",
        "/v1/returns/{id}",
        "getReturn",
        "A return: its lines' dispositions, the policy it was judged by, the refund owed",
        get,
        Scope.orders_read,
        {200: Return},
        READ_ERRORS,
        params=(_ID,),
        tag="returns",
        lane=return_location,
    ),
    Op(
        "POST",
        "/v1/returns/{id}/refund",
        "refundReturn",
        "Record the refund as initiated (once: a retry answers the same time)",
        refund,
        Scope.orders_write,
        {200: Return},
        READ_ERRORS,
        params=(_ID,),
        idempotent=True,
        tag="returns",
        lane=return_location,
    ),
]
