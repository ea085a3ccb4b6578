"""The changes feed over Server-Sent Events (GET /v1/changes) and the low-stock thresholds
its derived events use (changes/)."""

from typing import Annotated, Any

from fastapi.sse import EventSourceResponse
from msgspec import Meta

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, invalid
from api.query import Query
from api.schemas import GroupId, LocationId, Request, Response, SkuId
from atp.validate import check_id
from catalog.known import Kind, unknown_ids
from changes.derive import FEED_TYPES
from changes.feed import ChangeFeed
from changes.filters import ChangeFilter
from changes.limits import LOW_STOCK_THRESHOLD_MAX, SSE_FILTER_VALUES_MAX, SSE_RETRY_AFTER_S

ERRORS = frozenset({400, 401, 403, 422, 429, 503})
LAST_EVENT_ID = "last-event-id"
TIMEOUT_S_MAX = 24 * 3600.0


class ChangeEvent(Response, frozen=True):
    """One SSE event (text/event-stream): `id` the change's seq (resume with Last-Event-ID
    or ?after=), `event` its type, `data` this JSON object. Ledger events carry the position
    after them; derived ones atp_before/atp_after per channel; `reset` asks the client to
    read availability again."""

    id: str
    event: str
    data: dict[str, Any]


def _values(query: Query, name: str, field: str) -> list[str]:
    found: list[str] = []
    for raw in query.getlist(name):
        found += [v for v in raw.split(",") if v] if name == "types" else [raw]
    if len(found) > SSE_FILTER_VALUES_MAX:
        raise invalid(field, f"at most {SSE_FILTER_VALUES_MAX} values")
    return found


def _after(ctx: Ctx, query: Query) -> int | None:
    raw = query.get("after")
    field = "after"
    if raw is None:
        raw, field = ctx.request.headers.get(LAST_EVENT_ID), "Last-Event-ID"
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise invalid(field, "must be the id of a change (a non-negative integer)")
    return int(raw)


async def _check_known(feed: ChangeFeed, kind: Kind, field: str, ids: list[str]) -> None:
    unknown = await unknown_ids(feed.pool, kind, ids)
    if unknown:
        raise invalid(field, f"the catalog has no {kind} {', '.join(unknown)}")


def _feed(ctx: Ctx) -> ChangeFeed:
    feed = ctx.services.feed
    if feed is None:
        raise ApiError(503, "unavailable", "No changes feed", "this server runs without one")
    return feed


async def stream_changes(ctx: Ctx, _: None) -> Reply:
    feed = _feed(ctx)
    query = ctx.query()
    skus, locations = _values(query, "sku", "sku"), _values(query, "location", "location")
    groups, types = _values(query, "group", "group"), _values(query, "types", "types")
    for field, ids in (("sku", skus), ("location", locations), ("group", groups)):
        for value in ids:
            check_id(field, value)
    bad = sorted(set(types) - set(FEED_TYPES))
    if bad:
        raise invalid("types", f"unknown type {', '.join(bad)}: one of {', '.join(FEED_TYPES)}")
    after = _after(ctx, query)
    timeout_s = None
    if query.get("timeout_s") is not None:
        timeout_s = params.number(query, "timeout_s", 0.001, TIMEOUT_S_MAX)
    await _check_known(feed, "sku", "sku", skus)
    await _check_known(feed, "location", "location", locations)
    await _check_known(feed, "group", "group", groups)
    if feed.full:
        raise ApiError(
            503,
            "too-many-streams",
            "Too many change streams",
            "this process serves as many change streams as it may; retry shortly",
            headers={"Retry-After": str(SSE_RETRY_AFTER_S)},
        )
    memberships = feed.hub.memberships
    subscriber = feed.open(ChangeFilter.of(skus, locations, groups, types, memberships))
    body = feed.stream(subscriber, after)
    if timeout_s is not None:
        body = feed.bounded(body, subscriber, timeout_s)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return 200, EventSourceResponse(body, headers=headers)


class ThresholdBody(Request, frozen=True):
    sku: SkuId
    threshold: Annotated[int, Meta(ge=0, le=LOW_STOCK_THRESHOLD_MAX)]
    location: LocationId | None = None
    group: GroupId | None = None


class Threshold(Response, frozen=True):
    sku: str
    threshold: int
    location: str | None = None
    group: str | None = None


class Thresholds(Response, frozen=True):
    items: list[Threshold]
    default: int


async def set_threshold(ctx: Ctx, body: ThresholdBody) -> Reply:
    feed = _feed(ctx)
    if (body.location is None) == (body.group is None):
        raise invalid("location", "give a location or a group, not both")
    await _check_known(feed, "sku", "sku", [body.sku])
    if body.location is not None:
        await _check_known(feed, "location", "location", [body.location])
    else:
        await _check_known(feed, "group", "group", [body.group or ""])
    await feed.pool.execute(
        "INSERT INTO low_stock_thresholds (sku, location, location_group, threshold)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (sku, location, location_group)"
        " DO UPDATE SET threshold = excluded.threshold, updated_at = now()",
        body.sku, body.location or "", body.group or "", body.threshold,
    )  # fmt: skip
    feed.sequencer.nudge()
    return 200, Threshold(body.sku, body.threshold, body.location, body.group)


async def list_thresholds(ctx: Ctx, _: None) -> Reply:
    feed = _feed(ctx)
    sku = ctx.query().get("sku")
    if sku is not None:
        check_id("sku", sku)
    rows = await feed.pool.fetch(
        "SELECT sku, location, location_group, threshold FROM low_stock_thresholds"
        " WHERE $1::text IS NULL OR sku = $1 ORDER BY sku, location, location_group LIMIT 1000",
        sku,
    )
    items = [
        Threshold(r["sku"], r["threshold"], r["location"] or None, r["location_group"] or None)
        for r in rows
    ]
    return 200, Thresholds(items, feed.sequencer.default_threshold)


def _repeated(name: str, description: str) -> Param:
    return Param(name, "query", params.id_schema(name), description, repeated=True)


OPS = [
    Op(
        "GET",
        "/v1/changes",
        "streamChanges",
        "Follow stock and availability changes as Server-Sent Events (resumable)",
        stream_changes,
        Scope.availability_read,
        {200: ChangeEvent},
        ERRORS,
        params=(
            _repeated("sku", "only this SKU's changes; repeat for several"),
            _repeated("location", "only changes at this location; repeat for several"),
            _repeated("group", "changes at a group's locations and the group's own"),
            Param(
                "types",
                "query",
                {"type": "string", "enum": list(FEED_TYPES)},
                "only these types (repeat, or comma-separated)",
                repeated=True,
            ),
            Param(
                "after",
                "query",
                {"type": "string", "pattern": "^[0-9]{1,19}$"},
                "resume after this change id (as the Last-Event-ID header does)",
            ),
            Param(
                "timeout_s",
                "query",
                {"type": "number", "exclusiveMinimum": 0, "maximum": TIMEOUT_S_MAX},
                "end the stream after this many seconds (default: never)",
            ),
        ),
        tag="changes",
        description=(
            "Each event: `id` (resume from it with Last-Event-ID or ?after=, in order, none "
            "twice), `event` (its type) and `data` (JSON). Without either, the stream starts "
            "now. A resume older than the feed's retention, or from before a ledger rebuild, "
            "first gets `event: reset`: read availability again. A `: ping` comment every "
            "15 s keeps idle connections open."
        ),
        lane=lanes.anywhere,
    ),
    Op(
        "PUT",
        "/v1/low-stock-thresholds",
        "setLowStockThreshold",
        "Set the ATP at or below which a SKU is low at a location or over a group",
        set_threshold,
        Scope.stock_write,
        {200: Threshold},
        ERRORS - {503},
        body=ThresholdBody,
        tag="changes",
        lane=lanes.threshold_scope,
    ),
    Op(
        "GET",
        "/v1/low-stock-thresholds",
        "listLowStockThresholds",
        "The low-stock thresholds set, and the default for the rest",
        list_thresholds,
        Scope.availability_read,
        {200: Thresholds},
        ERRORS - {503},
        params=(Param("sku", "query", params.id_schema("sku"), "only this SKU's"),),
        tag="changes",
        lane=lanes.anywhere,
    ),
]
