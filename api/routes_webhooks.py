"""Webhook endpoints and their deliveries (webhooks/): register (the secret shown once),
list, delete; list deliveries (``state=dead`` is the dead-letter list) and redeliver one.
Scope ``webhooks:write`` for all."""

from typing import Annotated, Any

from msgspec import Meta, field

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, invalid
from api.schemas import GroupId, LocationId, Request, Response, SkuId
from webhooks import deliveries, endpoints
from webhooks.deliverer import wall_ms
from webhooks.deliveries import Delivery, DeliveryState
from webhooks.endpoints import Endpoint, Filters
from webhooks.limits import DELIVERIES_LISTED_MAX, FILTER_ITEMS_MAX, TYPES_MAX, URL_LENGTH_MAX
from webhooks.types import EVENT_TYPES

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429})
READ_ERRORS = frozenset({401, 403, 404, 422, 429})

Url = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=URL_LENGTH_MAX,
        examples=["https://hooks.example.com/atp"],
        description="http(s); a global address (private ones only in development)",
    ),
]
EventType = Annotated[str, Meta(extra_json_schema={"enum": sorted(EVENT_TYPES)})]


class WebhookBody(Request, frozen=True):
    url: Url
    types: Annotated[list[EventType], Meta(min_length=1, max_length=TYPES_MAX)]
    # Empty: any. A change is sent when it names one of these (or names no SKU / place).
    skus: Annotated[list[SkuId], Meta(max_length=FILTER_ITEMS_MAX)] = field(default_factory=list)
    locations: Annotated[list[LocationId], Meta(max_length=FILTER_ITEMS_MAX)] = field(
        default_factory=list
    )
    groups: Annotated[list[GroupId], Meta(max_length=FILTER_ITEMS_MAX)] = field(
        default_factory=list
    )


class CreatedWebhook(Endpoint, frozen=True):
    secret: Annotated[
        str, Meta(description="whsec_...: verify signatures with it; shown this once")
    ]


class WebhookList(Response, frozen=True):
    items: list[Endpoint]


class Deleted(Response, frozen=True):
    id: str
    deleted: bool


class DeliveryList(Response, frozen=True):
    items: list[Delivery]  # oldest first
    next_cursor: str | None  # pass as cursor for the next page


def _not_found(endpoint_id: str) -> ApiError:
    return ApiError(
        404, "webhook-not-found", "No such webhook", f"no webhook has the id {endpoint_id}"
    )


async def create(ctx: Ctx, body: WebhookBody) -> Reply:
    filters = Filters(body.types, body.skus, body.locations, body.groups)
    allow_private = ctx.services.settings.webhooks_allow_private
    async with ctx.services.pool.acquire() as conn:
        found, secret = await endpoints.register(
            conn, body.url, filters, allow_private, ctx.principal.key_id
        )
    fields = {name: getattr(found, name) for name in Endpoint.__struct_fields__}
    return 201, CreatedWebhook(**fields, secret=secret)


async def list_(ctx: Ctx, _: None) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        return 200, WebhookList(await endpoints.list_all(conn))


async def delete(ctx: Ctx, _: None) -> Reply:
    endpoint_id = ctx.path("webhook_id")
    async with ctx.services.pool.acquire() as conn:
        if not await endpoints.delete(conn, endpoint_id):
            raise _not_found(endpoint_id)
    return 200, Deleted(endpoint_id, True)


def _state(ctx: Ctx) -> DeliveryState | None:
    raw = ctx.query().get("state")
    try:
        return None if raw is None else DeliveryState(raw)
    except ValueError:
        raise invalid("state", f"must be among {', '.join(DeliveryState)}") from None


async def list_deliveries(ctx: Ctx, _: None) -> Reply:
    endpoint_id, query = ctx.path("webhook_id"), ctx.query()
    limit = params.integer(query, "limit", 20, 1, DELIVERIES_LISTED_MAX)
    cursor = query.get("cursor") or "0"
    if not cursor.isdigit() or len(cursor) > 19:
        raise invalid("cursor", "is not a cursor this API returned")
    async with ctx.services.pool.acquire() as conn:
        if await endpoints.get(conn, endpoint_id) is None:
            raise _not_found(endpoint_id)
        page, after = await deliveries.list_page(conn, endpoint_id, _state(ctx), limit, int(cursor))
    return 200, DeliveryList(page, None if after is None else str(after))


async def retry(ctx: Ctx, _: None) -> Reply:
    endpoint_id, delivery_id = ctx.path("webhook_id"), ctx.path("delivery_id")
    async with ctx.services.pool.acquire() as conn:
        found = await endpoints.get(conn, endpoint_id)
        if found is None:
            raise _not_found(endpoint_id)
        if not found.enabled:
            raise ApiError(
                409,
                "webhook-disabled",
                "Webhook disabled",
                f"{found.disabled_reason}; register the endpoint again",
            )
        delivery = await deliveries.redeliver(conn, endpoint_id, delivery_id, wall_ms())
    if delivery is None:
        raise ApiError(
            404, "delivery-not-found", "No such delivery", f"{endpoint_id} has no {delivery_id}"
        )
    return 202, delivery


# No examples: tests/api/test_openapi_examples.py holds every id example to a kind it knows
# (wh_3f9a1c2b7d4e5f60 and msg_c42 are what these look like).
_ID = Param("webhook_id", "path", params.ID_SCHEMA, "the webhook's id (wh_...)", True)
_DELIVERY = Param(
    "delivery_id", "path", params.ID_SCHEMA, "the delivery's id: its webhook-id header", True
)
_STATE: dict[str, Any] = {"type": "string", "enum": [s.value for s in DeliveryState]}
_LIMIT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": DELIVERIES_LISTED_MAX}

OPS = [
    Op(
        "POST",
        "/v1/webhooks",
        "createWebhook",
        "Register a webhook endpoint (its signing secret is in this answer only)",
        create,
        Scope.webhooks_write,
        {201: CreatedWebhook},
        ERRORS,
        body=WebhookBody,
        idempotent=True,
        tag="webhooks",
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/webhooks",
        "listWebhooks",
        "Webhook endpoints, enabled or disabled (never their secrets)",
        list_,
        Scope.webhooks_write,
        {200: WebhookList},
        frozenset({401, 403, 429}),
        tag="webhooks",
        lane=lanes.anywhere,
    ),
    Op(
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        "deleteWebhook",
        "Remove a webhook endpoint and its deliveries",
        delete,
        Scope.webhooks_write,
        {200: Deleted},
        READ_ERRORS,
        params=(_ID,),
        tag="webhooks",
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        "listWebhookDeliveries",
        "A webhook's deliveries, oldest first; state=dead is its dead-letter list",
        list_deliveries,
        Scope.webhooks_write,
        {200: DeliveryList},
        READ_ERRORS,
        params=(
            _ID,
            Param("state", "query", _STATE, "only deliveries in this state"),
            Param("limit", "query", _LIMIT, "deliveries to return (default 20)"),
            Param("cursor", "query", {"type": "string"}, "next_cursor of the previous page"),
        ),
        tag="webhooks",
        lane=lanes.anywhere,
    ),
    Op(
        "POST",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        "retryWebhookDelivery",
        "Deliver again (same webhook-id, a fresh attempt budget), e.g. from the dead-letter list",
        retry,
        Scope.webhooks_write,
        {202: Delivery},
        READ_ERRORS | {409},
        params=(_ID, _DELIVERY),
        tag="webhooks",
        lane=lanes.anywhere,
    ),
]
