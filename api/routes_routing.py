"""Order routing: plan an order's fulfillment, allocate it (plan and hold, all or nothing),
and the pickup stores near a shopper that hold a SKU now."""

import uuid
from typing import Any

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, invalid
from api.reads import STRONG, freshness, replica_for
from api.schemas_res import ReservationOut
from api.schemas_routing import AllocateBody, Allocation, Nearby, PlanBody
from atp.limits import QTY_MAX
from engine.protocol import LedgerEngine
from routing.limits import NEARBY_RADIUS_KM_MAX
from routing.live import AllocateResult, allocate, nearby, plan_order
from routing.location_directory import LocationDirectory
from routing.model import Order, OrderLine, Plan, Policy

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429, 503})

_REFUSALS: dict[AllocateResult, tuple[str, str, str]] = {
    AllocateResult.not_coverable: (
        "not-coverable",
        "Order cannot be fully covered",
        "no plan covers every line now; nothing was held (see plan.uncovered)",
    ),
    AllocateResult.raced_out: (
        "raced-out",
        "Stock taken by other orders",
        "every plan tried lost its stock to other orders; nothing was held: retry",
    ),
    AllocateResult.conflict: (
        "reservation-conflict",
        "Reservation id used with another body",
        "this reservation id holds other lines",
    ),
    AllocateResult.aborted: (
        "reservation-aborted",
        "Reservation attempt was abandoned",
        "an earlier attempt with this id was abandoned; use a new id",
    ),
}


def _engine(ctx: Ctx) -> LedgerEngine:
    return ctx.services.engine


def _directory(ctx: Ctx) -> LocationDirectory:
    directory = ctx.services.directory
    if directory is None:
        raise ApiError(
            503,
            "no-location-directory",
            "No location directory",
            "routing needs the location catalog (atp import locations FILE.csv)",
        )
    return directory


def _order_and_policy(ctx: Ctx, body: PlanBody) -> tuple[Order, Policy]:
    order = Order([OrderLine(ln.sku, ln.qty) for ln in body.lines], body.method, body.channel)
    policy = ctx.services.policy
    return order, policy if body.policy is None else body.policy.apply(policy)


async def plan(ctx: Ctx, body: PlanBody) -> Reply:
    order, policy = _order_and_policy(ctx, body)
    return 200, await plan_order(_engine(ctx), order, _directory(ctx), policy)


async def allocate_(ctx: Ctx, body: AllocateBody) -> Reply:
    order, policy = _order_and_policy(ctx, body)
    rid = body.id or ctx.op_id() or _new_id()
    outcome = await allocate(
        _engine(ctx),
        rid,
        order,
        _directory(ctx),
        policy,
        body.ttl_seconds,
        pickload=ctx.services.pickload,
    )
    if outcome.ok:
        assert outcome.reservation is not None
        status = 201 if outcome.result is AllocateResult.allocated else 200
        held = ReservationOut.of(outcome.reservation, outcome.positions)
        return status, Allocation(outcome.result, held, outcome.plan, outcome.attempts)
    slug, title, detail = _REFUSALS[outcome.result]
    extensions: dict[str, Any] = {"plan": outcome.plan}
    headers = {"Retry-After": "1"} if outcome.result is AllocateResult.raced_out else None
    raise ApiError(409, slug, title, detail, headers=headers, **extensions)


def _new_id() -> str:
    return "r-" + uuid.uuid4().hex


async def nearby_(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    sku = ctx.path("sku")
    lat = params.number(query, "lat", -90.0, 90.0)
    lon = params.number(query, "lon", -180.0, 180.0)
    radius = params.number(query, "radius_km", 0.0, NEARBY_RADIUS_KM_MAX)
    if radius <= 0:
        raise invalid("radius_km", "must be greater than 0")
    qty = params.integer(query, "qty", 1, 1, QTY_MAX)
    channel = params.channel(query)
    reads = await replica_for(ctx.services, params.consistency(query), None, [sku])
    engine, directory = _engine(ctx), _directory(ctx)
    strong = reads is None
    found = await nearby(engine, directory, sku, lat, lon, radius, qty, channel, strong=strong)
    fresh = STRONG if reads is None else freshness(reads, [sku])
    return 200, Nearby(sku=sku, qty=qty, channel=channel, stores=found, **fresh)


def _number(low: float, high: float, description: str) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high, "description": description}


OPS = [
    Op(
        "POST",
        "/v1/routing/plan",
        "planRouting",
        "The cheapest way to fulfill an order now, explained (nothing is held)",
        plan,
        Scope.availability_read,
        {200: Plan},
        ERRORS,
        body=PlanBody,
        tag="routing",
        lane=lanes.anywhere,
        writes=False,
        description="Ship to a point, pick up at a store, or pick up near a point. The plan "
        "lists its shipments with their cost terms, the best rejected alternatives and why, "
        "and any line it cannot cover with a back-order date from incoming supply.",
    ),
    Op(
        "POST",
        "/v1/routing/allocate",
        "allocateRouting",
        "Plan an order and hold every line of the plan in one reservation, or nothing",
        allocate_,
        Scope.reservations_write,
        {201: Allocation, 200: Allocation},
        ERRORS | {409},
        body=AllocateBody,
        idempotent=True,
        tag="routing",
        lane=lanes.routed,
        description="If another order takes a chosen location's stock between plan and hold, "
        "it plans again on fresh availability (a bounded number of times). Refusals hold "
        "nothing and carry the last plan.",
    ),
    Op(
        "GET",
        "/v1/availability/{sku}/nearby",
        "getNearby",
        "Pickup stores within a radius that can hand over a quantity now, nearest first",
        nearby_,
        Scope.availability_read,
        {200: Nearby},
        ERRORS,
        params=(
            params.path_id("sku"),
            Param("lat", "query", _number(-90, 90, "latitude"), required=True),
            Param("lon", "query", _number(-180, 180, "longitude"), required=True),
            Param(
                "radius_km",
                "query",
                {**_number(0, NEARBY_RADIUS_KM_MAX, "kilometres"), "exclusiveMinimum": 0},
                required=True,
            ),
            Param("qty", "query", {"type": "integer", "minimum": 1, "maximum": QTY_MAX}),
            params.CHANNEL,
            params.CONSISTENCY,
        ),
        tag="availability",
        lane=lanes.anywhere,
    ),
]
