"""Request and response bodies of the orders and pickup routes."""

import datetime as dt
from decimal import Decimal
from typing import Annotated

from msgspec import Meta, field

from api.schemas import Id, LocationId, Quantity, Request, Response, SkuId
from atp.model import Channel
from orders.limits import (
    BAY_LENGTH_MAX,
    CARRIER_LENGTH_MAX,
    CUSTOMER_FIELD_LENGTH_MAX,
    POSTCODE_LENGTH_MAX,
    TRACKING_LENGTH_MAX,
)
from orders.model import ORDER_ID_LENGTH_MAX, Method
from orders.views import Order
from routing.limits import ROUTE_LINES_MAX
from routing.model import Latitude, Longitude

OrderId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=ORDER_ID_LENGTH_MAX,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        examples=["web-1001"],
    ),
]
Text = Annotated[str, Meta(min_length=1, max_length=CUSTOMER_FIELD_LENGTH_MAX)]
# msgspec bounds no Decimal: _draft refuses a negative one.
Price = Annotated[Decimal, Meta(description="in the retailer's currency, 0 or more")]


class CustomerIn(Request, frozen=True):
    id: Id | None = None
    email: Text | None = None
    phone: Annotated[str, Meta(min_length=1, max_length=32)] | None = None
    name: Text | None = None


class ShipToIn(Request, frozen=True):
    lat: Latitude
    lon: Longitude
    postcode: Annotated[str, Meta(min_length=1, max_length=POSTCODE_LENGTH_MAX)] | None = None


class OrderLineIn(Request, frozen=True):
    sku: SkuId
    qty: Quantity
    unit_price: Price | None = None


class OrderBody(Request, frozen=True):
    id: OrderId
    method: Method
    lines: Annotated[list[OrderLineIn], Meta(min_length=1, max_length=ROUTE_LINES_MAX)]
    channel: Channel = Channel.online
    customer: CustomerIn = field(default_factory=CustomerIn)
    location: LocationId | None = None  # the pickup store (pickup, curbside)
    ship_to: ShipToIn | None = None  # ship, same_day
    alert_send_id: Id | None = None  # the back-in-stock alert that brought the customer


class StepBody(Request, frozen=True):
    bay: Annotated[str, Meta(min_length=1, max_length=BAY_LENGTH_MAX)] | None = None


class ShipmentLineIn(Request, frozen=True):
    sku: SkuId
    qty: Quantity


class ShipmentBody(Request, frozen=True):
    location: LocationId
    lines: Annotated[list[ShipmentLineIn], Meta(min_length=1, max_length=ROUTE_LINES_MAX)]
    carrier: Annotated[str, Meta(min_length=1, max_length=CARRIER_LENGTH_MAX)]
    tracking: Annotated[str, Meta(min_length=1, max_length=TRACKING_LENGTH_MAX)]
    id: Id | None = None  # the shipment's id; default: its tracking number


class OrderPage(Response, frozen=True):
    items: list[Order]
    next_cursor: str | None


class PickupPromise(Response, frozen=True):
    sku: str
    qty: int
    location: str
    promised_at: dt.datetime
    local_time: str  # the promise in the store's zone, ISO 8601 with its offset
    text: str  # "today by 15:30"
    stock_from: dt.date | None  # the day incoming supply brings the units; None: here now
    queue_ahead: int
    stage_time_s: float
    stage_time_measured: bool  # False: the default, too few staged orders yet
