"""The read side the availability routes share: engine positions joined with the
registers' oversell counts (read concurrently: one round trip on a single Redis)."""

import asyncio
from collections.abc import Sequence
from datetime import date

from api.schemas import Availability, AvailabilityBatch, AvailabilityRow, GroupTotal
from api.services import Services
from atp.limits import BATCH_LOCATIONS_MAX, BATCH_POSITIONS_MAX
from atp.model import Channel, InvalidInput, Position
from atp.rules import group_atp
from atp.validate import check_id


def _rows(
    positions: Sequence[Position], oversold: dict[tuple[str, str], int], channel: Channel
) -> list[AvailabilityRow]:
    return [AvailabilityRow.of(p, channel, oversold.get((p.sku, p.location), 0)) for p in positions]


def one_of(locations: Sequence[str] | None, group: str | None, field: str) -> None:
    if bool(locations) == (group is not None):
        raise InvalidInput(field, f"give either {field} or group, not both nor neither")


async def availability(
    services: Services, sku: str, locations: Sequence[str], group: str | None, channel: Channel
) -> Availability:
    """Rows for the given locations, then the group's other members; ``total`` is the
    group's ATP (its members only)."""
    if not locations and group is None:
        raise InvalidInput("location", "give location (repeatable), group, or both")
    check_id("sku", sku)  # before reads start, so the error names the parameter
    if len(locations) > BATCH_LOCATIONS_MAX:
        raise InvalidInput("location", f"at most {BATCH_LOCATIONS_MAX} locations")
    for location in locations:
        check_id("location", location)
    if len(set(locations)) != len(locations):
        raise InvalidInput("location", "must not repeat a location")
    engine = services.engine
    if group is None:
        positions, oversold = await asyncio.gather(
            engine.availability.positions([sku], locations),
            services.pos.oversold([(sku, loc) for loc in locations]),
        )
        return Availability(sku, channel, _rows(positions, oversold, channel))
    members, total = await engine.availability.group(sku, group, channel)
    found = {p.location: p for p in members}
    missing = [loc for loc in locations if loc not in found]
    if missing:
        found.update((p.location, p) for p in await engine.availability.positions([sku], missing))
    order = [*locations, *(p.location for p in members if p.location not in set(locations))]
    positions = [found[loc] for loc in order]
    oversold = await services.pos.oversold([(sku, loc) for loc in order])
    return Availability(sku, channel, _rows(positions, oversold, channel), total)


async def batch(
    services: Services,
    skus: Sequence[str],
    locations: Sequence[str] | None,
    group: str | None,
    channel: Channel,
) -> AvailabilityBatch:
    one_of(locations, group, "locations")
    engine = services.engine
    members = (
        list(locations or ()) if group is None else await engine.availability.group_members(group)
    )
    if len(skus) * len(members) > BATCH_POSITIONS_MAX:  # checked before any read starts
        raise InvalidInput("skus", f"skus x locations must not exceed {BATCH_POSITIONS_MAX}")
    positions, oversold = await asyncio.gather(
        engine.availability.positions(skus, members),
        services.pos.oversold([(sku, loc) for sku in skus for loc in members]),
    )
    rows = _rows(positions, oversold, channel)
    if group is None:
        return AvailabilityBatch(channel, rows)
    totals = [
        GroupTotal(sku, group_atp((p for p in positions if p.sku == sku), channel)) for sku in skus
    ]
    return AvailabilityBatch(channel, rows, totals)


async def promise(
    services: Services,
    sku: str,
    qty: int,
    locations: Sequence[str],
    group: str | None,
    channel: Channel,
    today: date,
) -> date | None:
    one_of(locations, group, "location")
    availability = services.engine.availability
    if group is not None:
        return await availability.promise_in_group(sku, qty, group, channel, today)
    return await availability.promise(sku, qty, locations, channel, today)
