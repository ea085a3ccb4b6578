"""An order as the API and the services around it see it: plain msgspec structs."""

import datetime as dt
from decimal import Decimal

import msgspec

from atp.model import Channel
from orders.model import Method, State


class Customer(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str | None = None
    email: str | None = None  # normalised (alerts/rules.py)
    phone: str | None = None
    name: str | None = None


class ShipTo(msgspec.Struct, frozen=True, omit_defaults=True):
    lat: float
    lon: float
    postcode: str | None = None


class OrderLine(msgspec.Struct, frozen=True):
    sku: str
    qty: int
    unit_price: Decimal | None = None
    delivered: int = 0  # shipped or picked up
    returned: int = 0


class PlannedLine(msgspec.Struct, frozen=True):
    sku: str
    qty: int


class PlannedShipment(msgspec.Struct, frozen=True):
    """Where the router sourced units from: one shipment (or the pickup store's shelf)."""

    location: str
    lines: list[PlannedLine]


class Shipment(msgspec.Struct, frozen=True):
    id: str
    location: str
    lines: list[PlannedLine]
    carrier: str
    tracking: str
    shipped_at: dt.datetime | None


class StepRecord(msgspec.Struct, frozen=True):
    step: str
    at: dt.datetime
    actor: str


class Order(msgspec.Struct, frozen=True):
    id: str
    state: State
    channel: Channel
    method: Method
    location: str | None  # the pickup store
    ship_to: ShipTo | None
    customer: Customer
    lines: list[OrderLine]
    reservation_id: str
    shipments: list[PlannedShipment]  # the routed plan
    shipped: list[Shipment]
    order_received_at: dt.datetime
    promised_at: dt.datetime | None = None
    promise_text: str | None = None  # the window in the store's words: "today by 15:30"
    confirmed_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    picking_at: dt.datetime | None = None
    staged_at: dt.datetime | None = None
    ready_at: dt.datetime | None = None
    arrived_at: dt.datetime | None = None
    bay: str | None = None
    picked_up_at: dt.datetime | None = None
    no_show_at: dt.datetime | None = None
    shipped_at: dt.datetime | None = None
    pending_step: str | None = None  # a step begun and not yet recorded (being finished)
    created_by: str = ""
    steps: list[StepRecord] = []
