"""Bodies of the routing routes. The method and the plan are the router's own Structs
(routing.model), so the API, the engine and the OpenAPI document share one definition."""

from typing import Annotated

import msgspec
from msgspec import Meta

from api.schemas import AsOf, Consistency, LagMs, Request, ReservationId, Response, SkuId
from api.schemas_res import ReservationOut, TtlSeconds
from atp.limits import LINE_QTY_MAX, RESERVATION_TTL_S_DEFAULT
from atp.model import Channel
from routing.limits import ROUTE_LINES_MAX, SPLIT_SHIPMENTS_MAX
from routing.live import AllocateResult
from routing.model import Method, Money, Plan, Policy, Units
from routing.nearby import NearbyStore


class RouteLine(Request, frozen=True):
    sku: SkuId
    qty: Annotated[int, Meta(ge=1, le=LINE_QTY_MAX)]


class PolicyOverrides(Request, frozen=True):
    """Fields to change from the retailer's routing policy for this request only."""

    shipment_cost: Money | None = None
    cost_per_km: Money | None = None
    depth_threshold_units: Units | None = None
    depth_penalty_per_unit: Money | None = None
    capacity_cost: Money | None = None
    priority_cost: Money | None = None
    shipments_max: Annotated[int, Meta(ge=1, le=SPLIT_SHIPMENTS_MAX)] | None = None

    def apply(self, policy: Policy) -> Policy:
        changes = {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not None
        }
        return msgspec.structs.replace(policy, **changes) if changes else policy


class PlanBody(Request, frozen=True):
    lines: Annotated[list[RouteLine], Meta(min_length=1, max_length=ROUTE_LINES_MAX)]
    method: Method  # {"type": "ship", lat, lon} | {"type": "pickup", location} | near_me
    channel: Channel = Channel.online
    policy: PolicyOverrides | None = None


class AllocateBody(PlanBody, frozen=True):
    id: ReservationId | None = None  # the reservation id; default: from the Idempotency-Key, or new
    ttl_seconds: TtlSeconds = RESERVATION_TTL_S_DEFAULT


class Allocation(Response, frozen=True):
    result: AllocateResult
    reservation: ReservationOut
    plan: Plan
    attempts: int  # plans tried: a race for the chosen stock re-plans


class Nearby(Response, frozen=True, kw_only=True, omit_defaults=True):
    sku: str
    qty: int
    channel: Channel
    stores: list[NearbyStore]  # pickup stores in the radius holding qty now, nearest first
    consistency: Consistency
    as_of: AsOf | None = None
    lag_ms: LagMs | None = None
