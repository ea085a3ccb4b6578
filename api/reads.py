"""The read side the availability routes share.

By default a read is answered from the process's in-memory replica (no network round
trip) and says how fresh it is (`as_of`, `lag_ms`). It reads Redis instead when the caller
asks `consistency=strong`, when the replica is loading or lagging past readiness, or when
the caller names a write (`after`) the replica has not applied within
REPLICA_AFTER_WAIT_MS. Redis reads join positions with the registers' oversell counts
(read concurrently: one round trip on a single Redis).
"""

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

from api.problems import invalid
from api.schemas import (
    Availability,
    AvailabilityBatch,
    AvailabilityRow,
    Consistency,
    GroupTotal,
)
from api.wiring import Services
from atp.limits import (
    BATCH_LOCATIONS_MAX,
    BATCH_POSITIONS_MAX,
    LEDGER_PARTITIONS,
    REPLICA_AFTER_WAIT_MS,
)
from atp.model import Channel, InvalidInput, Position
from atp.packed import PackedPositions
from atp.replica_reads import ReplicaReads, replica_to_read
from atp.validate import check_id

Fresh = dict[str, Any]  # consistency, as_of, lag_ms: spread into the response


def _rows(
    positions: Sequence[Position], oversold: dict[tuple[str, str], int], channel: Channel
) -> list[AvailabilityRow]:
    return [AvailabilityRow.of(p, channel, oversold.get((p.sku, p.location), 0)) for p in positions]


def replica_rows(
    packed: PackedPositions, skus: Sequence[str], locations: Sequence[str], channel: Channel
) -> list[AvailabilityRow]:
    """Every SKU x location (SKU-major) straight from the packed columns."""
    return packed.grid(skus, locations, channel, AvailabilityRow)


def one_of(locations: Sequence[str] | None, group: str | None, field: str) -> None:
    if bool(locations) == (group is not None):
        raise InvalidInput(field, f"give either {field} or group, not both nor neither")


def _parse_after(after: str) -> tuple[int, str]:
    partition, _, stream_id = after.partition("-")
    ms, _, seq = stream_id.partition("-")
    if not (partition.isdigit() and ms.isdigit() and seq.isdigit()):
        raise invalid("after", "must be an event id: partition-ms-seq")
    if int(partition) >= LEDGER_PARTITIONS:
        raise invalid("after", "names no partition of this ledger")
    return int(partition), stream_id


async def replica_for(
    services: Services, consistency: Consistency, after: str | None, skus: Sequence[str]
) -> ReplicaReads | None:
    """The replica when this read of ``skus`` may use it, else None (read Redis). While a
    durable ledger is missing or being rebuilt, neither copy is the truth: 503."""
    wanted = None if after is None else _parse_after(after)  # bad input is refused anyway
    reads = services.replica_reads
    replica = replica_to_read(
        None if reads is None else reads.replica,
        ledger_ready=services.engine.ready,
        skus=skus,
        strong=consistency == "strong",
    )
    if reads is None or replica is None:
        return None
    if wanted is not None:
        partition, stream_id = wanted
        if partition not in replica.partitions:
            return None  # a write this replica does not follow: Redis has it
        if not replica.has_applied(partition, stream_id):
            wait_s = REPLICA_AFTER_WAIT_MS / 1000
            if not await replica.caught_up([(partition, stream_id)], wait_s):
                return None
    return reads


def freshness(reads: ReplicaReads, skus: Sequence[str]) -> Fresh:
    return {"consistency": "replica", "as_of": reads.as_of(skus), "lag_ms": reads.lag_ms()}


STRONG: Fresh = {"consistency": "strong"}


def _check_locations(locations: Sequence[str]) -> None:
    if len(locations) > BATCH_LOCATIONS_MAX:
        raise InvalidInput("location", f"at most {BATCH_LOCATIONS_MAX} locations")
    for location in locations:
        check_id("location", location)
    if len(set(locations)) != len(locations):
        raise InvalidInput("location", "must not repeat a location")


async def availability(
    services: Services,
    sku: str,
    locations: Sequence[str],
    group: str | None,
    channel: Channel,
    consistency: Consistency = "replica",
    after: str | None = None,
) -> Availability:
    """Rows for the given locations, then the group's other members; ``total`` is the
    group's ATP (its members only)."""
    if not locations and group is None:
        raise InvalidInput("location", "give location (repeatable), group, or both")
    check_id("sku", sku)  # before reads start, so the error names the parameter
    _check_locations(locations)
    reads = await replica_for(services, consistency, after, [sku])
    if reads is not None:
        return await availability_from_replica(reads, sku, locations, group, channel)
    engine = services.engine
    if group is None:
        positions, oversold = await asyncio.gather(
            engine.availability.positions([sku], locations),
            services.registers.oversold([(sku, loc) for loc in locations]),
        )
        return Availability(
            sku=sku, channel=channel, rows=_rows(positions, oversold, channel), **STRONG
        )
    members, total = await engine.availability.group(sku, group, channel)
    found = {p.location: p for p in members}
    missing = [loc for loc in locations if loc not in found]
    if missing:
        found.update((p.location, p) for p in await engine.availability.positions([sku], missing))
    order = [*locations, *(p.location for p in members if p.location not in set(locations))]
    positions = [found[loc] for loc in order]
    oversold = await services.registers.oversold([(sku, loc) for loc in order])
    rows = _rows(positions, oversold, channel)
    return Availability(sku=sku, channel=channel, rows=rows, total=total, **STRONG)


async def availability_from_replica(
    reads: ReplicaReads, sku: str, locations: Sequence[str], group: str | None, channel: Channel
) -> Availability:
    packed = reads.replica.positions
    if group is None:
        rows = replica_rows(packed, [sku], locations, channel)
        return Availability(sku=sku, channel=channel, rows=rows, **freshness(reads, [sku]))
    members = await reads.group_members(group)
    asked = set(locations)
    order = [*locations, *(loc for loc in members if loc not in asked)]
    rows = replica_rows(packed, [sku], order, channel)
    in_group = set(members)
    total = sum(row.atp for row in rows if row.location in in_group)
    fresh = freshness(reads, [sku])
    return Availability(sku=sku, channel=channel, rows=rows, total=total, **fresh)


async def batch(
    services: Services,
    skus: Sequence[str],
    locations: Sequence[str] | None,
    group: str | None,
    channel: Channel,
    consistency: Consistency = "replica",
    after: str | None = None,
) -> AvailabilityBatch:
    one_of(locations, group, "locations")
    reads = await replica_for(services, consistency, after, skus)
    engine = services.engine
    if reads is not None:
        members = list(locations or ()) if group is None else await reads.group_members(group)
    else:
        members = (
            list(locations or ())
            if group is None
            else await engine.availability.group_members(group)
        )
    if len(skus) * len(members) > BATCH_POSITIONS_MAX:  # checked before any read starts
        raise InvalidInput("skus", f"skus x locations must not exceed {BATCH_POSITIONS_MAX}")
    if reads is not None:
        reads.check_batch(skus, members)
        rows = replica_rows(reads.replica.positions, skus, members, channel)
        fresh = freshness(reads, skus)
    else:
        positions, oversold = await asyncio.gather(
            engine.availability.positions(skus, members),
            services.registers.oversold([(sku, loc) for sku in skus for loc in members]),
        )
        rows, fresh = _rows(positions, oversold, channel), STRONG
    if group is None:
        return AvailabilityBatch(channel=channel, rows=rows, **fresh)
    per_sku = len(members)
    totals = [
        GroupTotal(sku, sum(r.atp for r in rows[i * per_sku : (i + 1) * per_sku]))
        for i, sku in enumerate(skus)
    ]
    return AvailabilityBatch(channel=channel, rows=rows, totals=totals, **fresh)


async def promise(
    services: Services,
    sku: str,
    qty: int,
    locations: Sequence[str],
    group: str | None,
    channel: Channel,
    today: date,
    consistency: Consistency = "replica",
    after: str | None = None,
) -> tuple[date | None, Fresh]:
    one_of(locations, group, "location")
    reads = await replica_for(services, consistency, after, [sku])
    if reads is not None:
        members = list(locations) if group is None else await reads.group_members(group)
        return reads.promise(sku, qty, members, channel, today), freshness(reads, [sku])
    availability = services.engine.availability
    if group is not None:
        day = await availability.promise_in_group(sku, qty, group, channel, today)
    else:
        day = await availability.promise(sku, qty, locations, channel, today)
    return day, STRONG
