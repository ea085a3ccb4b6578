"""Request and response bodies of availability and stock routes, as msgspec Structs.

Every bound comes from atp.limits, so the OpenAPI document, the decoder and the engine
refuse the same inputs. Requests forbid unknown fields: a misspelt optional field must be
an error, not silently ignored.
"""

import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from atp.limits import (
    BATCH_LOCATIONS_MAX,
    BATCH_SKUS_MAX,
    ID_LENGTH_MAX,
    QTY_MAX,
    REASON_LENGTH_MAX,
)
from atp.model import AdjustReason, Channel, Position
from atp.validate import ID_PATTERN as ENGINE_ID_PATTERN

# The engine's own id rule (check_id), anchored for JSON Schema.
ID_PATTERN = f"^{ENGINE_ID_PATTERN.pattern}$"

# One rule and one length bound for every id; each kind of id has its own alias, so the
# OpenAPI document shows an example of that kind (the demo chain's ids, catalog/demo_retailer.py).
_ID_RULE = Meta(min_length=1, max_length=ID_LENGTH_MAX, pattern=ID_PATTERN)
Id = Annotated[str, _ID_RULE]  # an id of no particular kind
SkuId = Annotated[str, _ID_RULE, Meta(examples=["SKU-000001"])]
LocationId = Annotated[str, _ID_RULE, Meta(examples=["ST-001"])]
GroupId = Annotated[str, _ID_RULE, Meta(examples=["oslo-stores"])]
ReservationId = Annotated[str, _ID_RULE, Meta(examples=["order-1001"])]
PosEventId = Annotated[str, _ID_RULE, Meta(examples=["till-1-000042"])]  # a register's event
DeviceId = Annotated[str, _ID_RULE, Meta(examples=["till-1"])]
SupplyId = Annotated[str, _ID_RULE, Meta(examples=["PO-77"])]
Count = Annotated[int, Meta(ge=0, le=QTY_MAX)]
Quantity = Annotated[int, Meta(ge=1, le=QTY_MAX)]
Delta = Annotated[int, Meta(ge=-QTY_MAX, le=QTY_MAX, description="signed; never zero")]
Reason = Annotated[str, Meta(min_length=1, max_length=REASON_LENGTH_MAX)]


class Request(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every request body."""


class Response(msgspec.Struct, frozen=True):
    """Base of every response body."""


# -- availability ----------------------------------------------------------------------

Consistency = Literal["replica", "strong"]
EVENT_ID_PATTERN = r"^[0-9]{1,4}-[0-9]{1,20}-[0-9]{1,20}$"
EventId = Annotated[
    str,
    Meta(
        pattern=EVENT_ID_PATTERN,
        description="a ledger event id (partition-ms-seq), as a write's response gives it",
        examples=["7-1795359271208-0"],
    ),
]
AsOf = Annotated[
    str,
    Meta(
        description="stream id (ms-seq): every ledger event of the SKUs' partitions up to it "
        "is in this answer (the replica's position; compare with a write's event_id)",
        examples=["1795359271208-0"],
    ),
]
LagMs = Annotated[
    float, Meta(ge=0, description="how far the replica trails Redis now, in milliseconds")
]


class _Figures(Response, frozen=True):
    """A position's figures, as availability rows and stock writes report them."""

    sku: str
    location: str
    on_hand: int
    reserved: int
    safety: int
    incoming: int
    atp: int  # for the channel asked (stock writes report the online channel)


class AvailabilityRow(_Figures, frozen=True, gc=False):  # scalars only: untracked
    oversold: int = 0  # units a register sold beyond availability, not yet resolved
    short: int = 0  # units reserved beyond on hand (a count came in low)

    @classmethod
    def of(cls, position: Position, channel: Channel, oversold: int = 0) -> "AvailabilityRow":
        p = position
        atp, short = p.atp(channel), p.short
        return cls(
            p.sku, p.location, p.on_hand, p.reserved, p.safety, p.incoming, atp, oversold, short
        )


class Availability(Response, omit_defaults=True, frozen=True, kw_only=True):
    sku: str
    channel: Channel
    rows: list[AvailabilityRow]
    total: int | None = None  # the group's ATP, when a group was asked
    consistency: Consistency  # replica: answered from memory (see as_of, lag_ms)
    as_of: AsOf | None = None
    lag_ms: LagMs | None = None


class AvailabilityQuery(Request, frozen=True):
    skus: Annotated[list[SkuId], Meta(min_length=1, max_length=BATCH_SKUS_MAX)]
    locations: (
        Annotated[list[LocationId], Meta(min_length=1, max_length=BATCH_LOCATIONS_MAX)] | None
    ) = None
    group: GroupId | None = None
    channel: Channel = Channel.online
    consistency: Consistency = "replica"  # strong: read Redis, not the in-memory replica
    after: EventId | None = None  # a write's event_id this answer must include


class GroupTotal(Response, frozen=True):
    sku: str
    atp: int


class AvailabilityBatch(Response, omit_defaults=True, frozen=True, kw_only=True):
    channel: Channel
    rows: list[AvailabilityRow]
    totals: list[GroupTotal] | None = None  # per SKU, when a group was asked
    consistency: Consistency
    as_of: AsOf | None = None
    lag_ms: LagMs | None = None


class Promise(Response, omit_defaults=True, frozen=True, kw_only=True):
    sku: str
    qty: int
    channel: Channel
    date: datetime.date | None  # the earliest day qty can be promised; null: never
    consistency: Consistency
    as_of: AsOf | None = None
    lag_ms: LagMs | None = None


# -- stock -----------------------------------------------------------------------------


class Adjustment(Request, frozen=True):
    sku: SkuId
    location: LocationId
    delta: Delta
    reason: AdjustReason


class CountBody(Request, frozen=True):
    on_hand: Count
    reason: Reason
    expected_on_hand: Count | None = None


class SafetyBody(Request, frozen=True):
    safety: Count


class IncomingBody(Request, frozen=True):
    sku: SkuId
    location: LocationId
    qty: Quantity
    expected_at: datetime.date
    supply_id: SupplyId | None = None  # default: derived from the Idempotency-Key or the body


class PositionOut(_Figures, frozen=True):
    short: int  # units reserved beyond on hand: a count came in below reserved

    @classmethod
    def of(cls, p: Position) -> "PositionOut":
        atp = p.atp(Channel.online)
        return cls(p.sku, p.location, p.on_hand, p.reserved, p.safety, p.incoming, atp, p.short)


class StockWrite(Response, frozen=True):
    result: Literal["applied", "duplicate"]
    event_id: str | None  # the ledger event; null on a duplicate
    position: PositionOut


class IncomingWrite(StockWrite, frozen=True):
    supply_id: str  # the one given, or derived: what receive, cancel and redate name


class ReceiveBody(Request, frozen=True):
    sku: SkuId
    location: LocationId
    qty: Quantity | None = None  # default: all the supply still expects
    reason: Reason | None = None  # recorded on the event, e.g. "pallet 2 of 3"


class SupplyRef(Request, frozen=True):
    """Which position's supply (supply ids are per SKU and location)."""

    sku: SkuId
    location: LocationId


class RedateBody(Request, frozen=True):
    sku: SkuId
    location: LocationId
    expected_at: datetime.date


class SupplyWrite(Response, frozen=True):
    result: Literal["applied", "duplicate"]
    event_id: str | None  # the ledger event; null on a duplicate
    position: PositionOut
    supply_id: str
    received: int  # units added to on hand
    retired: int  # units taken off incoming
    over_received: int  # units received beyond what the supply still expected
    remaining: int  # the supply's qty still expected (0: it is gone)


class Health(Response, frozen=True):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool]
