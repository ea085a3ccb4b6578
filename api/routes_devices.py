"""Registers: each device id belongs to one store (api/devices.py)."""

from typing import Annotated

from msgspec import Meta

from api import devices, lanes, params
from api.auth import Scope
from api.devices import Device, DeviceExists
from api.ops import Ctx, Op, Reply
from api.problems import ApiError
from api.schemas import LocationId, Request, Response

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429})


class DeviceBody(Request, frozen=True):
    location: LocationId  # the store the register stands in
    name: Annotated[str, Meta(max_length=100)] = ""


class DeviceList(Response, frozen=True):
    items: list[Device]


async def register(ctx: Ctx, body: DeviceBody) -> Reply:
    device_id = ctx.path("device_id")
    try:
        async with ctx.services.pool.acquire() as conn:
            device, created = await devices.register(
                conn, device_id, body.location, body.name, ctx.principal.key_id
            )
    except DeviceExists as exc:
        raise ApiError(
            409,
            "device-registered-elsewhere",
            "Device registered elsewhere",
            f"register {device_id} belongs to {exc.device.location}; use another device id",
        ) from None
    return (201 if created else 200), device


async def get(ctx: Ctx, _: None) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        device = await devices.get(conn, ctx.path("device_id"))
    if device is None or (
        ctx.principal.locations is not None and device.location not in ctx.principal.locations
    ):
        raise ApiError(404, "device-not-found", "No such register", "register it first")
    return 200, device


async def list_(ctx: Ctx, _: None) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        return 200, DeviceList(await devices.list_at(conn, ctx.principal.locations))


_DEVICE = params.path_id("device_id", "the register")

OPS = [
    Op(
        "PUT",
        "/v1/pos/devices/{device_id}",
        "registerDevice",
        "Register a POS device at its store (its sales and returns happen there)",
        register,
        Scope.stock_write,
        {201: Device, 200: Device},
        ERRORS | {409},
        body=DeviceBody,
        params=(_DEVICE,),
        tag="pos",
        lane=lanes.body_location,
        description="Registering again at the same store answers 200; another store is "
        "409 `device-registered-elsewhere`.",
    ),
    Op(
        "GET",
        "/v1/pos/devices/{device_id}",
        "getDevice",
        "A registered POS device",
        get,
        Scope.stock_write,
        {200: Device},
        frozenset({401, 403, 404, 422, 429}),
        params=(_DEVICE,),
        tag="pos",
        lane=lanes.anywhere,  # a key bound to stores sees only its own (404 otherwise)
    ),
    Op(
        "GET",
        "/v1/pos/devices",
        "listDevices",
        "Registered POS devices (a key bound to stores: theirs)",
        list_,
        Scope.stock_write,
        {200: DeviceList},
        frozenset({401, 403, 429}),
        tag="pos",
        lane=lanes.anywhere,
    ),
]
