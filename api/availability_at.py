"""Availability as the engine would have said it at an instant, read from the journal
(GET /v1/availability/{sku}?at=), and its derivation (GET /v1/availability/{sku}/explain):
durability/as_of.py reads, durability/as_of_rules.py folds; here is their HTTP shape."""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from msgspec import Meta

from api import params
from api.ops import Ctx, Param, Reply
from api.problems import ApiError, invalid
from api.query import Query
from api.schemas import Availability, AvailabilityRow, EventId, Response
from atp import clock
from atp.limits import BATCH_LOCATIONS_MAX
from atp.model import Channel, Position
from atp.validate import check_id
from durability.as_of import NotJournaled, explain_at, positions_at
from durability.as_of_rules import Derivation, Step

# `at` may run this far ahead of the ledger's clock (another host's clock, rounding).
AT_FUTURE_SKEW_MS = 5_000
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_EPOCH = date(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
JOURNAL: Literal["journal"] = "journal"


class AvailabilityAt(Availability, frozen=True, omit_defaults=True, kw_only=True):
    """Availability, or with `at` as it stood then (from the journal: `source`)."""

    as_of: Annotated[
        str | None,
        Meta(
            description="stream id (ms-seq): every ledger event of the SKUs' partitions up "
            "to it is in this answer; with `at`: that instant (RFC 3339)",
            examples=["1795359271208-0"],
        ),
    ] = None
    source: Literal["journal"] | None = None  # journal: answered from the journal (`at`)


def instant_ms(ctx: Ctx, query: Query, required: bool) -> int:
    """`at` as epoch ms: RFC 3339 with an offset, not ahead of the ledger's clock by more
    than AT_FUTURE_SKEW_MS; absent (when allowed) it is now."""
    now_ms = clock.instant_ms(ctx.services.engine.reservations.clock)
    raw = query.get("at")
    if raw is None:
        if required:
            raise invalid("at", "is required")
        return now_ms
    if not _RFC3339.match(raw):
        raise invalid("at", "must be an RFC 3339 date-time with an offset")
    try:
        # Whole milliseconds by integer arithmetic: a float timestamp may round 1 ms down.
        at_ms = (datetime.fromisoformat(raw.upper()) - _EPOCH_UTC) // timedelta(milliseconds=1)
    except ValueError:
        raise invalid("at", "must be an RFC 3339 date-time with an offset") from None
    if at_ms < 0:  # the ledger's times are epoch milliseconds: nothing is older
        raise invalid("at", "must not be before 1970-01-01T00:00:00Z")
    if at_ms > now_ms + AT_FUTURE_SKEW_MS:
        raise invalid("at", f"must not be in the future (beyond {AT_FUTURE_SKEW_MS} ms)")
    return at_ms


def _check_locations(locations: list[str]) -> None:
    if len(locations) > BATCH_LOCATIONS_MAX:
        raise invalid("location", f"at most {BATCH_LOCATIONS_MAX} locations")
    for location in locations:
        check_id("location", location)
    if len(set(locations)) != len(locations):
        raise invalid("location", "must not repeat a location")


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def not_journaled(exc: NotJournaled, at_ms: int) -> ApiError:
    first = exc.first_ms
    since = "it holds none" if first is None else f"its first is at {_instant(first).isoformat()}"
    return ApiError(
        404,
        "not-journaled",
        "Not in the journal then",
        f"the journal holds no event of {exc.sku} at {exc.location} at or before "
        f"{_instant(at_ms).isoformat()}; {since}",
    )


async def availability_at(ctx: Ctx, query: Query) -> AvailabilityAt:
    """Each asked location's row as the journal had it at `at` (locations only: a group's
    membership then is not journaled per position)."""
    locations = query.getlist("location")
    if query.get("group") is not None:
        raise invalid("group", "cannot be combined with at; give location")
    if not locations:
        raise invalid("location", "give location (repeatable) with at")
    _check_locations(locations)
    channel, at_ms = params.channel(query), instant_ms(ctx, query, required=True)
    try:
        positions = await positions_at(ctx.services.pool, ctx.path("sku"), locations, at_ms)
    except NotJournaled as exc:
        raise not_journaled(exc, at_ms) from None
    rows = [AvailabilityRow.of(p, channel) for p in positions]
    as_of = _instant(at_ms).isoformat().replace("+00:00", "Z")
    sku = ctx.path("sku")
    return AvailabilityAt(
        sku=sku, channel=channel, rows=rows, consistency="strong", as_of=as_of, source=JOURNAL
    )


class ExplainedEvent(Response, frozen=True):
    event_id: EventId
    type: Annotated[str, Meta(examples=["counted"])]
    at: datetime  # when the ledger applied it
    why: str  # the event's reason
    d_on_hand: int
    on_hand: int  # after it


class ExplainedHold(Response, frozen=True):
    reservation_id: str
    units: int  # its open units at the location then
    event_ids: list[EventId]  # its events there up to then, oldest first


class ExplainedSupply(Response, frozen=True):
    supply_id: str
    qty: int  # still incoming then
    expected_on: date
    event_ids: list[EventId]  # added, received, re-dated ... up to then, oldest first


class Explanation(Response, frozen=True, kw_only=True):
    sku: str
    location: str
    channel: Channel
    at: datetime  # the instant asked
    event_id: EventId  # the last event at or before it: the position after it
    event_at: datetime
    atp: int  # max(0, on_hand - reserved - safety_held_back)
    on_hand: int
    reserved: int
    safety: int
    safety_held_back: int  # safety on the online channel; the store counter may sell it
    incoming: int
    on_hand_events: list[ExplainedEvent]  # the last count, then each change after it
    reservations: list[ExplainedHold]  # largest first
    reserved_unattributed: int  # reserved units no journaled reservation accounts for
    safety_event: ExplainedEvent | None  # the event that set safety; null: never set
    supplies: list[ExplainedSupply]  # largest first
    truncated: bool  # a list was cut to its limit (docs/api.md)
    source: Literal["journal"] = "journal"


def _explained(step: Step) -> ExplainedEvent:
    when = _instant(step.ts_ms)
    return ExplainedEvent(step.event_id, step.type, when, step.reason, step.d_on_hand, step.on_hand)


def explanation_of(d: Derivation, channel: Channel, at_ms: int) -> Explanation:
    p: Position = d.position
    return Explanation(
        sku=p.sku,
        location=p.location,
        channel=channel,
        at=_instant(at_ms),
        event_id=d.event_id,
        event_at=_instant(d.ts_ms),
        atp=p.atp(channel),
        on_hand=p.on_hand,
        reserved=p.reserved,
        safety=p.safety,
        safety_held_back=p.safety if channel is Channel.online else 0,
        incoming=p.incoming,
        on_hand_events=[_explained(s) for s in d.on_hand_events],
        reservations=[
            ExplainedHold(h.reservation_id, h.units, h.event_ids) for h in d.reservations
        ],
        reserved_unattributed=d.reserved_unattributed,
        safety_event=None if d.safety_event is None else _explained(d.safety_event),
        supplies=[
            ExplainedSupply(s.supply_id, s.qty, _EPOCH + timedelta(days=s.day), s.event_ids)
            for s in d.supplies
        ],
        truncated=d.truncated,
    )


async def explain_availability(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    locations = query.getlist("location")
    if len(locations) != 1:
        raise invalid("location", "give exactly one location")
    check_id("location", locations[0])
    channel, at_ms = params.channel(query), instant_ms(ctx, query, required=False)
    try:
        derived = await explain_at(ctx.services.pool, ctx.path("sku"), locations[0], at_ms)
    except NotJournaled as exc:
        raise not_journaled(exc, at_ms) from None
    return 200, explanation_of(derived, channel, at_ms)


AT = Param(
    "at",
    "query",
    {"type": "string", "format": "date-time"},
    "an instant (RFC 3339 with an offset, not in the future): answer as the engine would "
    "have then, from the journal",
)
