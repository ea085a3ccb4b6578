"""Re-sourcing's hand-off to people: committed units that could not be moved off a
location left short, and marking one dealt with (routing/resourcing.py)."""

from typing import Annotated

from msgspec import Meta

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError
from api.schemas import LocationId, Reason, Request, ReservationId, Response, SkuId
from atp.limits import ATTENTION_LIST_MAX
from routing.resourcing import AttentionItem, attention, resolve

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429})


class AttentionList(Response, frozen=True):
    items: list[AttentionItem]  # oldest first


class ResolveBody(Request, frozen=True):
    reservation_id: ReservationId
    sku: SkuId
    location: LocationId
    note: Reason = "resolved"  # what was done: called the customer, found the units...


class Resolved(Response, frozen=True):
    resolved: Annotated[bool, Meta(description="always true: a missing item is a 404")]


async def list_attention(ctx: Ctx, _: None) -> Reply:
    limit = params.integer(ctx.query(), "limit", ATTENTION_LIST_MAX, 1, ATTENTION_LIST_MAX)
    return 200, AttentionList(await attention(ctx.services.engine.redis, limit))


async def resolve_attention(ctx: Ctx, body: ResolveBody) -> Reply:
    redis = ctx.services.engine.redis
    if not await resolve(redis, body.reservation_id, body.sku, body.location, body.note):
        raise ApiError(
            404, "attention-not-found", "No such attention item", "nothing is flagged for that"
        )
    return 200, Resolved(True)


OPS = [
    Op(
        "GET",
        "/v1/attention",
        "listAttention",
        "Committed units re-sourcing could not move off a short location, oldest first",
        list_attention,
        Scope.reservations_write,
        {200: AttentionList},
        ERRORS,
        params=(
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": ATTENTION_LIST_MAX},
                "items to return",
            ),
        ),
        tag="re-sourcing",
        lane=lanes.anywhere,
    ),
    Op(
        "POST",
        "/v1/attention/resolve",
        "resolveAttention",
        "Mark one attention item dealt with (recorded as an event)",
        resolve_attention,
        Scope.reservations_write,
        {200: Resolved},
        ERRORS | {404},
        body=ResolveBody,
        tag="re-sourcing",
        lane=lanes.body_location,
    ),
]
