"""Re-sourcing decisions, pure: which committed reservations give up units at a short
position (newest first), the order the router plans for each, and the moves a plan means.
No I/O; routing/resourcing.py reads the ledger, asks these, and applies the answers."""

from collections.abc import Sequence

import msgspec

from atp.model import Channel
from routing.eligibility import eligible
from routing.limits import CANDIDATES_MAX
from routing.location_directory import RoutingLocation
from routing.model import Candidate, Method, Order, OrderLine, Plan, ShipTo

# Index members are "<loc>|<sku>|<commit ms, 15 digits>|<rid>"; '|' is not an id character.
SEPARATOR = "|"
COMMIT_MS_DIGITS = 15


class Committed(msgspec.Struct, frozen=True):
    """A committed reservation's open units at the short position."""

    rid: str
    channel: Channel
    open: int
    committed_ms: int
    method: Method | None = None  # how its order is fulfilled, when routing recorded it


class Claim(msgspec.Struct, frozen=True):
    """Units one reservation should move away from the short position."""

    rid: str
    channel: Channel
    units: int
    method: Method | None = None


class Move(msgspec.Struct, frozen=True):
    target: str
    qty: int


def index_bounds(location: str, sku: str) -> tuple[str, str]:
    """ZREVRANGEBYLEX (max, min) covering exactly one position's members."""
    prefix = f"{location}{SEPARATOR}{sku}{SEPARATOR}"
    # '}' sorts right after '|': every member of the prefix lies below prefix[:-1] + '}'.
    return f"({prefix[:-1]}}}", f"[{prefix}"


def parse_member(member: str) -> tuple[str, str, int, str]:
    """(location, sku, commit ms, reservation id)."""
    location, sku, committed_ms, rid = member.split(SEPARATOR, 3)
    return location, sku, int(committed_ms), rid


def claims(short_units: int, committed: Sequence[Committed]) -> list[Claim]:
    """Newest commitments give up their units first, until the shortage is covered: the
    oldest promises are the last to be disturbed. Ties: the later reservation id first."""
    ordered = sorted(committed, key=lambda c: (c.committed_ms, c.rid), reverse=True)
    out: list[Claim] = []
    remaining = short_units
    for c in ordered:
        if remaining <= 0:
            break
        units = min(c.open, remaining)
        if units > 0:
            out.append(Claim(c.rid, c.channel, units, c.method))
            remaining -= units
    return out


def order_for(sku: str, claim: Claim, origin: RoutingLocation) -> Order | None:
    """The units as an order to plan, or None when they must not move without a person.

    A routed reservation's own method says: shipped to its destination. A pickup (at a
    store, or near the shopper) is a promise to hand over at that counter: moving it would
    send the customer elsewhere, so it goes to a person. A reservation routing did not make
    carries no destination: the location that promised it stands in for the customer."""
    lines = [OrderLine(sku, claim.units)]
    if isinstance(claim.method, ShipTo):
        return Order(lines, claim.method, claim.channel)
    if claim.method is not None:
        return None
    return Order(lines, ShipTo(origin.lat, origin.lon), claim.channel)


def candidate_locations(
    order: Order, locations: Sequence[RoutingLocation], short_location: str
) -> list[RoutingLocation]:
    """Locations that may ship the order, the short one excluded, nearest CANDIDATES_MAX."""
    others = [loc for loc in locations if loc.location != short_location]
    kept, _ = eligible(order.method, [loc.candidate({}) for loc in others])
    kept.sort(key=lambda row: (row[1], row[0].location))
    names = {c.location for c, _ in kept[:CANDIDATES_MAX]}
    return [loc for loc in others if loc.location in names]


def candidates(
    locations: Sequence[RoutingLocation], sku: str, atp: dict[str, int]
) -> list[Candidate]:
    return [
        loc.candidate({sku: atp[loc.location]} if atp.get(loc.location) else {})
        for loc in locations
    ]


def moves(plan: Plan, sku: str) -> list[Move]:
    """The plan's shipments as moves of the one sku, cheapest plan's order kept."""
    return [Move(s.location, ln.qty) for s in plan.shipments for ln in s.lines if ln.sku == sku]
