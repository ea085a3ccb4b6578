"""Which changes a reader asked for: pure, no I/O.

Values of one kind are alternatives (sku=A&sku=B: either SKU); kinds narrow each other
(sku=A&location=S1: A at S1). A group stands for its locations' own changes and for the
group's derived changes; a location filter leaves the groups' changes out (they have no
location).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from changes.derive import RESET
from changes.store import StoredChange


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    skus: frozenset[str] | None = None
    locations: frozenset[str] | None = None
    groups: frozenset[str] | None = None
    types: frozenset[str] | None = None
    # The groups' member locations when the filter was made (a group's own changes match
    # by name; its locations' changes by membership).
    group_locations: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        skus: Iterable[str] = (),
        locations: Iterable[str] = (),
        groups: Iterable[str] = (),
        types: Iterable[str] = (),
        memberships: Mapping[str, frozenset[str]] | None = None,
    ) -> ChangeFilter:
        def some(values: Iterable[str]) -> frozenset[str] | None:
            found = frozenset(values)
            return found or None

        group_set = some(groups)
        members: frozenset[str] = frozenset()
        if group_set is not None and memberships is not None:
            members = frozenset().union(*(memberships.get(g, frozenset()) for g in group_set))
        return cls(some(skus), some(locations), group_set, some(types), members)

    def matches(self, change: StoredChange) -> bool:
        if change.type == RESET:
            return True  # every reader must hear that the ledger was rebuilt
        if self.types is not None and change.type not in self.types:
            return False
        if self.skus is not None and change.sku not in self.skus:
            return False
        if change.group:
            if self.locations is not None:
                return False
            return self.groups is None or change.group in self.groups
        if self.locations is not None and change.location not in self.locations:
            return False
        return self.groups is None or change.location in self.group_locations

    def index_keys(self) -> tuple[str, frozenset[str]] | None:
        """The narrowest of its kinds, for the hub's index: ("sku", values), else
        ("location", ...), else ("group", names plus member locations); None: all."""
        if self.skus is not None:
            return "sku", self.skus
        if self.locations is not None:
            return "location", self.locations
        if self.groups is not None:
            return "group", self.groups | self.group_locations
        return None
