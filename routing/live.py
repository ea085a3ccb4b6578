"""The glue: feed the pure router live availability, and reserve its answer.

plan_order reads every eligible location's ATP for the order's SKUs (routing/fetch.py: from
the in-memory replica when ready, else Redis) and plans. Only a partial plan reads incoming
supply, to date its back-orders.

allocate plans, then holds every line of every shipment in ONE reservation, so the ledger's
all-or-nothing reserve makes the allocation atomic: the replica may be stale, Redis decides.
When a race empties a chosen location in between, the reserve is refused `insufficient`
with every short position's figure, and it re-plans knowing them, ALLOCATE_ATTEMPTS_MAX
attempts in all. A caller's retry of an allocation that succeeded answers already_exists.
"""

import asyncio
import enum
import random
from collections.abc import Sequence

import msgspec

from atp.limits import RESERVATION_TTL_S_DEFAULT
from atp.model import Channel, Position
from reservations.model import Line, Reservation, ReserveResult, State
from routing.eligibility import eligible, may_serve
from routing.explain import date_back_orders
from routing.fetch import fetch_arrivals, fetch_atp
from routing.limits import (
    ALLOCATE_ATTEMPTS_MAX,
    ALLOCATE_BACKOFF_MS,
    ALLOCATE_BACKOFF_MS_MAX,
    CANDIDATES_MAX,
)
from routing.location_directory import LocationDirectory, RoutingLocation
from routing.model import Candidate, NearMe, Order, Plan, PlanStatus, Policy
from routing.nearby import NearbyStore, stores_nearby
from routing.pickload import PickLoad
from routing.plan import check_order, plan
from routing.port import LedgerPort
from routing.route_record import record_route

__all__ = [
    "AllocateOutcome",
    "AllocateResult",
    "allocate",
    "candidates_for",
    "fetch_arrivals",
    "fetch_atp",
    "nearby",
    "plan_order",
    "reservation_lines",
]


class _StaticCandidates:
    """The directory's locations as candidates without stock, kept while the directory
    hands back the same tuple (an in-memory directory always does; a tuple of frozen
    structs cannot change under us): eligibility then costs no struct per location."""

    def __init__(self) -> None:
        self._last: tuple[tuple[RoutingLocation, ...], list[Candidate]] | None = None

    def __call__(self, locations: Sequence[RoutingLocation]) -> list[Candidate]:
        last = self._last
        if last is not None and last[0] is locations:
            return last[1]
        found = [loc.candidate({}) for loc in locations]
        if isinstance(locations, tuple):
            self._last = (locations, found)  # holds the tuple: its identity stays unique
        return found


_static = _StaticCandidates()

Known = dict[tuple[str, str], int]  # (sku, location) -> available, as a refused reserve said


async def candidates_for(
    engine: LedgerPort, order: Order, directory: LocationDirectory, *, known: Known | None = None
) -> list[Candidate]:
    """Every location in the directory, with live ATP read for those that may serve the
    order's method (the others stay in, at zero, so the plan can say why they were left).
    ``known``: what refused reserves reported, authoritative when it is lower (a replica
    that lags, or a racer's hold made after the read)."""
    locations = await directory.locations()
    statics = _static(locations)
    if len(locations) > CANDIDATES_MAX or isinstance(order.method, NearMe):
        kept, _ = eligible(order.method, statics)
        if len(locations) > CANDIDATES_MAX:
            # A large network: the nearest eligible locations only (ids break ties).
            kept.sort(key=lambda row: (row[1], row[0].location))
            kept = kept[:CANDIDATES_MAX]
            allowed = {c.location for c, _ in kept}
            locations = [loc for loc in locations if loc.location in allowed]
        names = [c.location for c, _ in kept]
    else:
        # No radius and no cut: which locations may serve needs no distance.
        names = [c.location for c in may_serve(order.method, statics)]
    atp: dict[str, dict[str, int]] = {}
    if names:
        atp = await fetch_atp(engine, [ln.sku for ln in order.lines], names, order.channel)
    for (sku, location), available in (known or {}).items():
        row = atp.get(location)
        if row is not None and row.get(sku, 0) > available:
            row[sku] = available
    return [loc.candidate(atp.get(loc.location, {})) for loc in locations]


async def plan_order(
    engine: LedgerPort,
    order: Order,
    directory: LocationDirectory,
    policy: Policy | None = None,
    *,
    known: Known | None = None,
) -> Plan:
    check_order(order, [])
    candidates = await candidates_for(engine, order, directory, known=known)
    result = plan(order, candidates, policy)
    if result.uncovered:
        # Rare and already a disappointment: only now read incoming supply, for the short
        # SKUs at the eligible locations, so the common path pays nothing for it.
        kept, _ = eligible(order.method, candidates)
        names = [c.location for c, _ in kept]
        arrivals = await fetch_arrivals(engine, [u.sku for u in result.uncovered], names)
        with_supply = [
            msgspec.structs.replace(c, incoming=arrivals[c.location])
            if c.location in arrivals
            else c
            for c in candidates
        ]
        result = date_back_orders(result, order.method, with_supply)
    return result


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
    positions: list[Position] = []  # on allocated: each held position right after the hold

    @property
    def ok(self) -> bool:
        return self.result in (AllocateResult.allocated, AllocateResult.already_exists)


def reservation_lines(p: Plan) -> list[Line]:
    return [Line(ln.sku, s.location, ln.qty) for s in p.shipments for ln in s.lines]


def _same_order(order: Order, held: Reservation) -> bool:
    """Whether a reservation holds exactly this order (per sku, wherever it was sourced)."""
    if held.channel != order.channel:
        return False
    units: dict[str, int] = {}
    for ln in held.lines:
        units[ln.sku] = units.get(ln.sku, 0) + ln.qty
    return units == {ln.sku: ln.qty for ln in order.lines}


async def allocate(
    engine: LedgerPort,
    reservation_id: str,
    order: Order,
    directory: LocationDirectory,
    policy: Policy | None = None,
    ttl_s: int = RESERVATION_TTL_S_DEFAULT,
    *,
    pickload: PickLoad | None = None,
) -> AllocateOutcome:
    """Plan and hold every line of the plan, or nothing. With ``pickload``, the units held
    count against each location's pick capacity today (once per reservation id)."""
    current = None
    known: Known = {}
    for attempt in range(1, ALLOCATE_ATTEMPTS_MAX + 1):
        current = await plan_order(engine, order, directory, policy, known=known)
        if current.status is not PlanStatus.complete:
            mine = await _held_before(engine, reservation_id, order) if attempt == 1 else None
            if mine is not None:
                # A retry after success: our own hold made the stock look short.
                return await _existing(reservation_id, mine, current, attempt, pickload)
            return AllocateOutcome(AllocateResult.not_coverable, current, attempts=attempt)
        held = await engine.reservations.reserve(
            reservation_id, order.channel, reservation_lines(current), ttl_s
        )
        if held.result is ReserveResult.insufficient:
            # Another order took units between our read and our hold (or the replica had
            # not seen it yet). The refusal names every short position with what it has
            # now: the re-plan uses that at once, so no attempt repeats a known shortfall
            # and each loss narrows the order's view until it holds or sees no plan.
            # Racers read the same stock and, planning deterministically, chose the same
            # stores: a jittered pause also spreads their re-plans.
            for short in held.shortfalls:
                key = (short.sku, short.location)
                known[key] = min(known.get(key, short.available), max(0, short.available))
            if attempt < ALLOCATE_ATTEMPTS_MAX:
                pause_ms = min(ALLOCATE_BACKOFF_MS * attempt, ALLOCATE_BACKOFF_MS_MAX)
                await asyncio.sleep(random.uniform(0, pause_ms) / 1000)
            continue
        if held.result is ReserveResult.conflict:
            mine = await _held_before(engine, reservation_id, order)
            if mine is not None:
                # A retry of an allocation that succeeded re-planned around its own hold,
                # so lines and digest differ; the order is the same: answer as a retry.
                return await _existing(reservation_id, mine, current, attempt, pickload)
        result = (
            AllocateResult.allocated
            if held.result is ReserveResult.reserved
            else AllocateResult(held.result.value)
        )
        if held.ok:
            # Re-sourcing reads how the order is fulfilled (routing/resourcing.py); the
            # route and the pick load leave in one write.
            method = msgspec.json.encode(order.method).decode()
            now = engine.reservations.clock.now_ms()
            route = record_route(engine.redis, reservation_id, method, now)
            if pickload is not None and held.reservation is not None:
                await asyncio.gather(route, pickload.add(reservation_id, held.reservation.lines))
            else:
                await route
        return AllocateOutcome(result, current, held.reservation, attempt, held.positions)
    assert current is not None
    return AllocateOutcome(AllocateResult.raced_out, current, attempts=ALLOCATE_ATTEMPTS_MAX)


async def _held_before(engine: LedgerPort, reservation_id: str, order: Order) -> Reservation | None:
    """The reservation under this id, when it holds exactly this order."""
    held = await engine.reservations.get(reservation_id)
    if held is None or held.state is State.aborted or not _same_order(order, held):
        return None
    return held


async def _existing(
    reservation_id: str, held: Reservation, current: Plan, attempt: int, pickload: PickLoad | None
) -> AllocateOutcome:
    if pickload is not None:
        await pickload.add(reservation_id, held.lines)
    return AllocateOutcome(AllocateResult.already_exists, current, held, attempt)


async def nearby(
    engine: LedgerPort,
    directory: LocationDirectory,
    sku: str,
    lat: float,
    lon: float,
    radius_km: float,
    qty: int = 1,
    channel: Channel = Channel.online,
    *,
    strong: bool = False,
) -> list[NearbyStore]:
    """Pickup stores within the radius that can hand over ``qty`` now, nearest first
    (read from the replica when it is ready, unless ``strong``)."""
    # Validated like a near-me order's method: the same bounds on lat, lon and radius.
    method = msgspec.convert({"lat": lat, "lon": lon, "radius_km": radius_km}, NearMe)
    locations = await directory.locations()
    kept, _ = eligible(method, [loc.candidate({}) for loc in locations])
    names = [c.location for c, _ in kept]
    if not names:
        return []
    atp = await fetch_atp(engine, [sku], names, channel, strong=strong)
    by_name = {loc.location: loc for loc in locations}
    return stores_nearby(
        sku, qty, lat, lon, radius_km, [by_name[n].candidate(atp[n]) for n in names]
    )
