"""A subscription scope's stock at send time, read again from the engine (Redis, not the
replica: the check that stock is really there must see the latest write)."""

from collections.abc import Sequence

from alerts.catalog_lookup import location_names
from alerts.rules import LocationStock
from atp.availability import Availability
from atp.limits import BATCH_LOCATIONS_MAX
from atp.model import Channel, InvalidInput, Position
from durability.db import Conn


async def _members(availability: Availability, location: str, group: str) -> list[str]:
    if not group:
        return [location]
    try:
        return await availability.group_members(group)
    except InvalidInput:  # the ledger has no such group (yet): nothing is available there
        return []


async def _positions(
    availability: Availability, sku: str, members: Sequence[str]
) -> list[Position]:
    out: list[Position] = []
    for at in range(0, len(members), BATCH_LOCATIONS_MAX):  # a group may hold up to 500
        out += await availability.positions([sku], members[at : at + BATCH_LOCATIONS_MAX])
    return out


async def scope_stock(
    availability: Availability,
    conn: Conn,
    sku: str,
    location: str,
    group: str,
    channel: Channel,
) -> list[LocationStock]:
    members = await _members(availability, location, group)
    if not members:
        return []
    positions = await _positions(availability, sku, members)
    if not any(p.atp(channel) > 0 for p in positions):
        return [LocationStock(p.location, p.location, p.available(channel)) for p in positions]
    supplies = await availability.supplies([(sku, m) for m in members])
    names = await location_names(conn, members)
    return [
        LocationStock(
            p.location,
            names[p.location],
            p.available(channel),
            tuple((s.expected_on, s.qty) for s in supplies[(sku, p.location)]),
        )
        for p in positions
    ]
