"""Availability reads: one SKU, a batch, the promise date; and, with `at`, what the engine
would have said at an instant, read from the journal, with its derivation (explain)."""

from typing import Any

from api import lanes, params, reads
from api.auth import Scope
from api.availability_at import (
    AT,
    AvailabilityAt,
    Explanation,
    availability_at,
    explain_availability,
)
from api.ops import Ctx, Op, Param, Reply
from api.schemas import AvailabilityBatch, AvailabilityQuery, Promise
from atp.clock import instant
from atp.limits import QTY_MAX
from durability.as_of_rules import (
    EXPLAIN_ON_HAND_EVENTS_MAX,
    EXPLAIN_RESERVATIONS_MAX,
    EXPLAIN_SUPPLIES_MAX,
)

READ_ERRORS = frozenset({401, 403, 422, 429})


async def get_availability(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    if query.get("at") is not None:
        return 200, await availability_at(ctx, query)
    result = await reads.availability(
        ctx.services,
        ctx.path("sku"),
        query.getlist("location"),
        query.get("group"),
        params.channel(query),
        params.consistency(query),
        query.get("after"),
    )
    return 200, result


async def query_availability(ctx: Ctx, body: AvailabilityQuery) -> Reply:
    result = await reads.batch(
        ctx.services,
        body.skus,
        body.locations,
        body.group,
        body.channel,
        body.consistency,
        body.after,
    )
    return 200, result


async def get_promise(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    sku, channel = ctx.path("sku"), params.channel(query)
    qty = params.integer(query, "qty", None, 1, QTY_MAX)
    # The promise is a calendar day; the engine clock's UTC day is precise enough for it.
    today = instant(ctx.services.engine.reservations.clock).date()
    day, fresh = await reads.promise(
        ctx.services,
        sku,
        qty,
        query.getlist("location"),
        query.get("group"),
        channel,
        today,
        params.consistency(query),
        query.get("after"),
    )
    return 200, Promise(sku=sku, qty=qty, channel=channel, date=day, **fresh)


_QTY: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": QTY_MAX}
# Where (locations, a group) and how (channel, consistency, a write to include) a read asks.
_WHERE_AND_HOW = (params.LOCATIONS, params.GROUP, params.CHANNEL, params.CONSISTENCY, params.AFTER)

OPS = [
    Op(
        "GET",
        "/v1/availability/{sku}",
        "getAvailability",
        "Availability of one SKU at locations or over a location group",
        get_availability,
        Scope.availability_read,
        {200: AvailabilityAt},
        READ_ERRORS | {404},
        params=(params.path_id("sku"), *_WHERE_AND_HOW, AT),
        tag="availability",
        lane=lanes.anywhere,
        description="One row per location asked (`location`, repeatable), then per member "
        "of `group` not already listed; `total` (the group's ATP) when a group is asked. "
        "With `at`: each location's row as it stood then, from the journal (`source: "
        "journal`, `as_of` the instant; locations only, no group); 404 `not-journaled` when "
        "the journal holds no event of a position by then.",
    ),
    Op(
        "GET",
        "/v1/availability/{sku}/explain",
        "explainAvailability",
        "How a position's availability was derived at an instant, event by event",
        explain_availability,
        Scope.availability_read,
        {200: Explanation},
        READ_ERRORS | {404},
        params=(
            params.path_id("sku"),
            Param("location", "query", params.id_schema("location"), "the location", required=True),
            params.CHANNEL,
            AT,
        ),
        tag="availability",
        lane=lanes.anywhere,
        description="From the journal: on hand (the last count and each change after it), "
        "reserved (by which reservations, with their events), safety (the event that set "
        "it), incoming (by which supplies); `at` defaults to now. At most "
        f"{EXPLAIN_RESERVATIONS_MAX} reservations, {EXPLAIN_SUPPLIES_MAX} supplies and "
        f"{EXPLAIN_ON_HAND_EVENTS_MAX} on-hand events (`truncated`); 404 `not-journaled` "
        "when the journal holds no event of the position by then.",
    ),
    Op(
        "POST",
        "/v1/availability/query",
        "queryAvailability",
        "Availability of many SKUs at many locations in one call",
        query_availability,
        Scope.availability_read,
        {200: AvailabilityBatch},
        READ_ERRORS | {400, 413, 415},
        body=AvailabilityQuery,
        tag="availability",
        lane=lanes.anywhere,
        writes=False,
        description="Rows for every SKU x location, SKU-major. Give `locations` or `group`.",
    ),
    Op(
        "GET",
        "/v1/availability/{sku}/promise",
        "getPromise",
        "Earliest date a quantity can be promised, counting incoming supply",
        get_promise,
        Scope.availability_read,
        {200: Promise},
        READ_ERRORS,
        params=(
            params.path_id("sku"),
            Param("qty", "query", _QTY, "units wanted", required=True),
            *_WHERE_AND_HOW,
        ),
        tag="availability",
        lane=lanes.anywhere,
    ),
]
