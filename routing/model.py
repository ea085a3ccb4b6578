"""The router's plain data: an order, its candidate locations, the policy, and the plan.

Quantities are units; money is in the retailer's currency (floats: costs are estimates
compared with a tolerance, never booked). Candidate pick capacity is in *units* left to
pick today, not orders: a 20-line order loads a store far more than a 1-line one.
"""

import enum
from datetime import date
from typing import Annotated

import msgspec

from atp.limits import LINE_QTY_MAX, QTY_MAX
from atp.model import Channel
from routing.limits import NEARBY_RADIUS_KM_MAX, SPLIT_SHIPMENTS_DEFAULT, SPLIT_SHIPMENTS_MAX

Qty = Annotated[int, msgspec.Meta(ge=1, le=LINE_QTY_MAX)]
Units = Annotated[int, msgspec.Meta(ge=0, le=QTY_MAX)]
Money = Annotated[float, msgspec.Meta(ge=0.0)]
Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]


class Capability(enum.StrEnum):
    ship = "ship"  # a warehouse or DC shipping parcels
    ship_from_store = "ship_from_store"  # a store packing parcels from its shelves
    pickup = "pickup"  # a store handing orders over its counter


class LocationKind(enum.StrEnum):
    warehouse = "warehouse"
    store = "store"


class OrderLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sku: str
    qty: Qty


class ShipTo(msgspec.Struct, frozen=True, tag="ship", forbid_unknown_fields=True):
    lat: Latitude
    lon: Longitude


class PickupAt(msgspec.Struct, frozen=True, tag="pickup", forbid_unknown_fields=True):
    location: str


class NearMe(msgspec.Struct, frozen=True, tag="near_me", forbid_unknown_fields=True):
    """Pick up at whichever store within the radius serves best."""

    lat: Latitude
    lon: Longitude
    radius_km: Annotated[float, msgspec.Meta(gt=0.0, le=NEARBY_RADIUS_KM_MAX)]


Method = ShipTo | PickupAt | NearMe


class Order(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lines: list[OrderLine]
    method: Method
    channel: Channel = Channel.online


class Arrival(msgspec.Struct, frozen=True):
    """Incoming supply at a candidate: what back-order dates are promised from."""

    sku: str
    qty: int
    expected_on: date


class Candidate(msgspec.Struct, frozen=True):
    location: str
    kind: LocationKind
    capabilities: frozenset[Capability]
    lat: float
    lon: float
    atp: dict[str, int]  # per sku, for the order's channel; missing means 0
    capacity_units: int  # left to pick today
    priority: int = 0  # rank: 0 is preferred, each step costs Policy.priority_cost
    depth_threshold: int | None = None  # overrides Policy.depth_threshold_units
    active: bool = True
    incoming: list[Arrival] = []


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The objective's weights. Per retailer, overridable per request; defaults are sane
    for parcel shipping in one country (a split costs about 300 km of distance)."""

    shipment_cost: Money = 6.0  # per shipment: label, packing, a pick trip
    cost_per_km: Money = 0.02  # per shipment, from the location to the destination
    depth_threshold_units: Units = 2  # a store keeps this many units sellable
    depth_penalty_per_unit: Money = 3.0  # per unit taken below a store's threshold
    capacity_cost: Money = 2.0  # x units / capacity left: spreads load off busy stores
    priority_cost: Money = 0.5  # per priority rank of a shipping location
    shipments_max: Annotated[int, msgspec.Meta(ge=1, le=SPLIT_SHIPMENTS_MAX)] = (
        SPLIT_SHIPMENTS_DEFAULT
    )


class CostTerms(msgspec.Struct, frozen=True):
    shipment: float = 0.0
    distance: float = 0.0
    depth: float = 0.0
    capacity: float = 0.0
    priority: float = 0.0

    @property
    def total(self) -> float:
        return self.shipment + self.distance + self.depth + self.capacity + self.priority


class ShipmentLine(msgspec.Struct, frozen=True):
    sku: str
    qty: int


class Shipment(msgspec.Struct, frozen=True):
    location: str
    kind: LocationKind
    distance_km: float
    lines: list[ShipmentLine]
    cost: CostTerms
    cost_total: float


class Uncovered(msgspec.Struct, frozen=True):
    sku: str
    requested: int
    short: int
    back_order_on: date | None = None  # when incoming supply covers the shortfall


class Alternative(msgspec.Struct, frozen=True):
    """A plan the router did not choose, and why."""

    locations: list[str]
    cost_total: float | None  # None: it cannot fill the order
    reason: str


class PlanStatus(enum.StrEnum):
    complete = "complete"  # every line fully covered
    partial = "partial"  # the best partial: see uncovered
    unfulfillable = "unfulfillable"  # no eligible location holds any unit


class Plan(msgspec.Struct, frozen=True):
    status: PlanStatus
    shipments: list[Shipment]
    cost_total: float
    uncovered: list[Uncovered]
    alternatives: list[Alternative]
    excluded: dict[str, int]  # candidates left out, per reason
    proven_optimal: bool  # the search finished: no cheaper plan exists within the policy
    nodes: int  # search nodes spent (bounded by SEARCH_NODES_MAX)
