"""What each route claims of a key's lanes: the locations it acts at and the channel it
uses (its path ids are already checked by the operation table). Every operation in the
table names one of these (api/ops.py runs it before the handler), and
``Principal.confine`` is the one check; tests/api/test_authorization.py enumerates every
route against every kind of key.

Reading availability anywhere is allowed (a register may tell a customer another store has
it); acting on stock, reservations or registers is confined.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from api.auth import forbidden
from api.problems import invalid
from atp.model import Channel
from orders.views import PlannedShipment

# (ctx, decoded body) -> None, raising a 403 problem naming the rule that refused.
Lane = Callable[[Any, Any], Awaitable[None]]


async def anywhere(ctx: Any, body: Any) -> None:
    """Reads of availability and of the catalog, and routes without a location."""


async def body_location(ctx: Any, body: Any) -> None:
    ctx.principal.confine([body.location])


async def threshold_scope(ctx: Any, body: Any) -> None:
    """A low-stock threshold at a location is that location's; over a group, a key bound
    to stores may not set it (the group reaches beyond them)."""
    if body.location is not None:
        ctx.principal.confine([body.location])
    elif ctx.principal.locations is not None:
        raise forbidden(
            "location-not-allowed",
            "a group's threshold reaches beyond this key's stores: set one per location",
        )


async def path_location(ctx: Any, body: Any) -> None:
    ctx.principal.confine([ctx.path("location")])


async def held_lines(ctx: Any, body: Any) -> None:
    """A hold takes stock at each line's location on the body's channel."""
    ctx.principal.confine((ln.location for ln in body.lines), body.channel)


async def routed(ctx: Any, body: Any) -> None:
    """Routing may choose any location: a key bound to stores holds at its own with
    POST /v1/reservations instead."""
    ctx.principal.confine((), body.channel)
    if ctx.principal.locations is not None:
        raise forbidden(
            "location-not-allowed",
            "routing may choose any location and this key is bound to stores: "
            "hold at your own locations with POST /v1/reservations",
        )


async def reservation(ctx: Any, body: Any) -> None:
    """A key bound to stores reads and acts only on reservations whose lines are all there
    (an unknown id passes: the route answers 404)."""
    if ctx.principal.locations is None:
        return
    found = await ctx.services.reservation(ctx.path("id"))
    if found is not None:
        ctx.principal.confine(ln.location for ln in found.lines)


async def register(ctx: Any, body: Any) -> None:
    """A register's events happen at the store it is registered to, on the store channel."""
    device_id = ctx.path("device_id")
    location = await ctx.services.devices.location_of(device_id)
    if location is None:
        raise forbidden(
            "device-not-registered",
            f"register {device_id} is not registered to a store: "
            f"PUT /v1/pos/devices/{device_id} with its location first",
        )
    ctx.principal.confine([location], Channel.store)
    for i, event in enumerate(body.events):
        where = getattr(event, "location", None)
        if where is not None and where != location:
            raise invalid(
                f"events[{i}].location", f"must be {location}, where {device_id} is registered"
            )


# -- orders (api/routes_orders.py, api/routes_pickup.py) ---------------------------

_PLAN = msgspec.json.Decoder(list[PlannedShipment])


async def order_channel(ctx: Any, body: Any) -> None:
    """Placing an order is the endless aisle: any location's stock, on the key's channel."""
    ctx.principal.confine((), body.channel)


async def order_at_key(ctx: Any, body: Any) -> None:
    """A key bound to stores acts on orders collected at its stores, sourced from them
    (ship-from-store), or that it created (an unknown id passes: the route answers 404)."""
    if ctx.principal.locations is None:
        return
    row = await ctx.services.pool.fetchrow(
        "SELECT location, created_by, shipments_plan::text AS plan FROM orders WHERE id = $1",
        ctx.path("order_id"),
    )
    if row is None or row["created_by"] == ctx.principal.key_id:
        return
    places = {row["location"]} | {s.location for s in _PLAN.decode(row["plan"])}
    if not places & ctx.principal.locations:
        raise forbidden(
            "location-not-allowed",
            f"order {ctx.path('order_id')} is neither collected at nor sourced from this "
            "key's stores",
        )


async def shipment(ctx: Any, body: Any) -> None:
    """A store ships its own units (ship-from-store) of an order it may act on."""
    ctx.principal.confine([body.location])
    await order_at_key(ctx, body)


async def order_at_store(ctx: Any, body: Any) -> None:
    """The store's own work: only a key for the order's pickup store."""
    if ctx.principal.locations is None:
        return
    location = await ctx.services.pool.fetchval(
        "SELECT location FROM orders WHERE id = $1", ctx.path("order_id")
    )
    if location is not None:
        ctx.principal.confine([location])
