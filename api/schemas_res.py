"""Request and response bodies of reservation and POS routes."""

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

import msgspec
from msgspec import Meta

from api.schemas import (
    Id,
    LocationId,
    PosEventId,
    PositionOut,
    Request,
    ReservationId,
    Response,
    SkuId,
)
from atp.limits import (
    LINE_QTY_MAX,
    ORDER_LINES_MAX,
    RESERVATION_TTL_S_DEFAULT,
    RESERVATION_TTL_S_MAX,
    RESERVATION_TTL_S_MIN,
)
from atp.model import Channel, Position
from atp.register_events import DEVICE_SEQ_MAX, REGISTER_BATCH_MAX, RegisterEventStatus
from orders.limits import CUSTOMER_FIELD_LENGTH_MAX
from reservations.model import Reservation, State

LineQty = Annotated[int, Meta(ge=1, le=LINE_QTY_MAX)]
TtlSeconds = Annotated[int, Meta(ge=RESERVATION_TTL_S_MIN, le=RESERVATION_TTL_S_MAX)]


class LineIn(Request, frozen=True):
    sku: SkuId
    location: LocationId
    qty: LineQty


Lines = Annotated[list[LineIn], Meta(min_length=1, max_length=ORDER_LINES_MAX)]


class ReserveBody(Request, frozen=True):
    channel: Channel
    lines: Lines
    id: ReservationId | None = None  # default: derived from the Idempotency-Key, else random
    ttl_seconds: TtlSeconds = RESERVATION_TTL_S_DEFAULT


class ExtendBody(Request, frozen=True):
    ttl_seconds: TtlSeconds


class SettleBody(Request, frozen=True):
    lines: Lines | None = None  # none: every unit still open


class LineOut(Response, frozen=True):
    sku: str
    location: str
    qty: int
    open: int
    fulfilled: int
    released: int
    expired: int


class ReservationOut(Response, frozen=True, omit_defaults=True):
    id: str
    state: State
    channel: Channel
    expires_at: datetime.datetime | None  # while held
    lines: list[LineOut]
    # On a hold, fulfill or release: each position it changed, right after the change (reads
    # from the replica may trail it by the replica's lag).
    positions: list[PositionOut] = msgspec.field(default_factory=list)

    @classmethod
    def of(cls, r: Reservation, positions: Sequence[Position] = ()) -> "ReservationOut":
        expires = (
            None
            if r.expires_at_ms is None
            else datetime.datetime.fromtimestamp(r.expires_at_ms / 1000, datetime.UTC)
        )
        lines = [
            LineOut(ln.sku, ln.location, ln.qty, ln.open, ln.fulfilled, ln.released, ln.expired)
            for ln in r.lines
        ]
        return cls(r.id, r.state, r.channel, expires, lines, [PositionOut.of(p) for p in positions])


class ReservationPage(Response, frozen=True):
    items: list[ReservationOut]
    next_cursor: str | None  # pass back as ?cursor= for the next page; null at the end


# -- registers (POS) -------------------------------------------------------------------
# Their bodies keep the HTTP surface's word, as its paths (/v1/pos/...) and tag do: Pos*.

DeviceSeq = Annotated[int, Meta(ge=0, le=DEVICE_SEQ_MAX)]


class _PosEvent(Request, tag_field="type", frozen=True):
    event_id: PosEventId
    device_seq: DeviceSeq
    occurred_at: datetime.datetime


class PosCustomer(Request, frozen=True):
    """Who bought or returned (any of them): joined into the one customer of every channel
    (orders/customers.py), never echoed in a register's answer."""

    id: Id | None = None  # the customer's account id
    email: Annotated[str, Meta(min_length=1, max_length=CUSTOMER_FIELD_LENGTH_MAX)] | None = None
    phone: Annotated[str, Meta(min_length=1, max_length=32)] | None = None


# As a price's (api/routes_prices.py): checked by orders/price_rules.money, field named.
PosMoney = Annotated[
    Decimal,
    Meta(
        description="the unit price sold at: at most 2 decimal places, 0 or more (a string "
        "or a number)",
        examples=["249.00"],
    ),
]
PosCurrency = Annotated[
    str,
    Meta(
        max_length=8,
        description="ISO 4217 (three capital letters); default: the SKU's price's",
        examples=["NOK"],
    ),
]


class PosSale(_PosEvent, tag="sale", frozen=True):
    sku: SkuId
    location: LocationId
    qty: LineQty
    customer: PosCustomer | None = None
    unit_price: PosMoney | None = None  # checked against the price in force at occurred_at
    currency: PosCurrency | None = None


class PosReturn(_PosEvent, tag="return", frozen=True):
    sku: SkuId
    location: LocationId
    qty: LineQty
    customer: PosCustomer | None = None


class PosVoid(_PosEvent, tag="void", frozen=True):
    voids: PosEventId  # the event_id this one cancels


PosEvent = PosSale | PosReturn | PosVoid


class PosBatch(Request, frozen=True):
    events: Annotated[list[PosEvent], Meta(min_length=1, max_length=REGISTER_BATCH_MAX)]


class PosEventResult(Response, omit_defaults=True, frozen=True):
    event_id: str
    status: RegisterEventStatus
    oversold: int = 0  # units of this sale beyond what was available
    detail: str | None = None


class PosBatchResult(Response, frozen=True):
    device_id: str
    results: list[PosEventResult]
