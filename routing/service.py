"""The glue: feed the pure router live availability, and reserve its answer.

plan_order reads every eligible location's ATP for the order's SKUs (one round trip per
BATCH_POSITIONS_MAX positions, all issued together) and plans. allocate plans, then holds
every line of every shipment in ONE reservation, so the ledger's all-or-nothing reserve
makes the allocation atomic; when a race empties a chosen location in between, the reserve
is refused `insufficient` and it re-plans on fresh availability, ALLOCATE_ATTEMPTS_MAX times.
"""

import asyncio
import enum
import random
from collections.abc import Sequence

import msgspec

from atp.engine import Engine
from atp.limits import BATCH_POSITIONS_MAX, RESERVATION_TTL_S_DEFAULT
from atp.model import Channel
from reservations.model import Line, Reservation, ReserveResult
from routing.directory import LocationDirectory
from routing.eligibility import eligible
from routing.limits import (
    ALLOCATE_ATTEMPTS_MAX,
    ALLOCATE_BACKOFF_MS,
    CANDIDATES_MAX,
    FETCH_LOCATIONS_MAX,
)
from routing.model import Candidate, NearMe, Order, Plan, PlanStatus, Policy
from routing.nearby import NearbyStore, stores_nearby
from routing.plan import check_order, plan


async def fetch_atp(
    engine: Engine, skus: Sequence[str], locations: Sequence[str], channel: Channel
) -> dict[str, dict[str, int]]:
    """location -> sku -> ATP for the channel; chunks issued at once (pipelined)."""
    per_call = max(1, min(FETCH_LOCATIONS_MAX, BATCH_POSITIONS_MAX // max(1, len(skus))))
    chunks = [locations[k : k + per_call] for k in range(0, len(locations), per_call)]
    replies = await asyncio.gather(
        *(engine.availability.positions(skus, chunk) for chunk in chunks)
    )
    atp: dict[str, dict[str, int]] = {loc: {} for loc in locations}
    for reply in replies:
        for position in reply:
            units = position.atp(channel)
            if units:
                atp[position.location][position.sku] = units
    return atp


async def candidates_for(
    engine: Engine, order: Order, directory: LocationDirectory
) -> list[Candidate]:
    """Every location in the directory, with live ATP read for those that may serve the
    order's method (the others stay in, at zero, so the plan can say why they were left)."""
    locations = await directory.locations()
    kept, _ = eligible(order.method, [loc.candidate({}) for loc in locations])
    if len(locations) > CANDIDATES_MAX:
        # A large network: the nearest eligible locations only (ids break distance ties).
        kept.sort(key=lambda row: (row[1], row[0].location))
        kept = kept[:CANDIDATES_MAX]
        allowed = {c.location for c, _ in kept}
        locations = [loc for loc in locations if loc.location in allowed]
    names = [c.location for c, _ in kept]
    atp: dict[str, dict[str, int]] = {}
    if names:
        atp = await fetch_atp(engine, [ln.sku for ln in order.lines], names, order.channel)
    return [loc.candidate(atp.get(loc.location, {})) for loc in locations]


async def plan_order(
    engine: Engine, order: Order, directory: LocationDirectory, policy: Policy | None = None
) -> Plan:
    check_order(order, [])
    return plan(order, await candidates_for(engine, order, directory), policy)


class AllocateResult(enum.StrEnum):
    allocated = "allocated"  # every line held, as the plan says
    already_exists = "already_exists"  # this id was allocated before: that reservation
    not_coverable = "not_coverable"  # the plan is partial or empty: nothing held
    raced_out = "raced_out"  # every attempt lost a race for its units: nothing held
    conflict = "conflict"  # the id names another reservation
    aborted = "aborted"  # an earlier attempt with this id was abandoned


class AllocateOutcome(msgspec.Struct, frozen=True):
    result: AllocateResult
    plan: Plan
    reservation: Reservation | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.result in (AllocateResult.allocated, AllocateResult.already_exists)


def reservation_lines(p: Plan) -> list[Line]:
    return [Line(ln.sku, s.location, ln.qty) for s in p.shipments for ln in s.lines]


async def allocate(
    engine: Engine,
    reservation_id: str,
    order: Order,
    directory: LocationDirectory,
    policy: Policy | None = None,
    ttl_s: int = RESERVATION_TTL_S_DEFAULT,
) -> AllocateOutcome:
    """Plan and hold every line of the plan, or nothing."""
    current = None
    for attempt in range(1, ALLOCATE_ATTEMPTS_MAX + 1):
        current = await plan_order(engine, order, directory, policy)
        if current.status is not PlanStatus.complete:
            return AllocateOutcome(AllocateResult.not_coverable, current, attempts=attempt)
        held = await engine.reservations.reserve(
            reservation_id, order.channel, reservation_lines(current), ttl_s
        )
        if held.result is ReserveResult.insufficient:
            # Another order took units between our read and our hold. Racers read the same
            # stock and, planning deterministically, chose the same stores: a jittered
            # pause spreads their re-plans so each sees the others' holds.
            if attempt < ALLOCATE_ATTEMPTS_MAX:
                await asyncio.sleep(random.uniform(0, ALLOCATE_BACKOFF_MS * attempt) / 1000)
            continue
        return AllocateOutcome(
            AllocateResult(held.result.value)
            if held.result is not ReserveResult.reserved
            else AllocateResult.allocated,
            current,
            held.reservation,
            attempt,
        )
    assert current is not None
    return AllocateOutcome(AllocateResult.raced_out, current, attempts=ALLOCATE_ATTEMPTS_MAX)


async def nearby(
    engine: Engine,
    directory: LocationDirectory,
    sku: str,
    lat: float,
    lon: float,
    radius_km: float,
    qty: int = 1,
    channel: Channel = Channel.online,
) -> list[NearbyStore]:
    """Pickup stores within the radius that can hand over ``qty`` now, nearest first."""
    # Validated like a near-me order's method: the same bounds on lat, lon and radius.
    method = msgspec.convert({"lat": lat, "lon": lon, "radius_km": radius_km}, NearMe)
    locations = await directory.locations()
    kept, _ = eligible(method, [loc.candidate({}) for loc in locations])
    names = [c.location for c, _ in kept]
    if not names:
        return []
    atp = await fetch_atp(engine, [sku], names, channel)
    by_name = {loc.location: loc for loc in locations}
    return stores_nearby(
        sku, qty, lat, lon, radius_km, [by_name[n].candidate(atp[n]) for n in names]
    )
