"""Where candidate locations come from. The ledger keeps no location catalog, so the
router asks a LocationDirectory; an in-memory one (fed from a list or JSON) serves tests,
the demo and the benchmark; the PostgreSQL catalog serves it over HTTP
(catalog/routing_directory.py)."""

from collections.abc import Sequence
from typing import Protocol

import msgspec

from routing.model import Arrival, Candidate, Capability, LocationKind


class RoutingLocation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A location's static facts: everything a Candidate holds but live availability."""

    location: str
    kind: LocationKind
    capabilities: frozenset[Capability]
    lat: float
    lon: float
    capacity_units: int  # pick capacity left today, in units
    priority: int = 0
    depth_threshold: int | None = None
    active: bool = True

    def candidate(self, atp: dict[str, int], incoming: list[Arrival] | None = None) -> Candidate:
        return Candidate(
            self.location,
            self.kind,
            self.capabilities,
            self.lat,
            self.lon,
            atp,
            self.capacity_units,
            self.priority,
            self.depth_threshold,
            self.active,
            incoming or [],
        )


class LocationDirectory(Protocol):
    async def locations(self) -> Sequence[RoutingLocation]:
        """Every location that may serve orders (inactive ones may be included)."""
        ...


class InMemoryDirectory:
    def __init__(self, locations: Sequence[RoutingLocation]) -> None:
        ids = [loc.location for loc in locations]
        if len(set(ids)) != len(ids):
            raise ValueError("locations must not repeat an id")
        self._locations = tuple(sorted(locations, key=lambda loc: loc.location))

    @classmethod
    def from_json(cls, data: bytes | str) -> "InMemoryDirectory":
        return cls(msgspec.json.decode(data, type=list[RoutingLocation]))

    async def locations(self) -> Sequence[RoutingLocation]:
        return self._locations
