"""Which endpoints a change is owed to: a pure rule (no I/O), shared by the feed's fan-out
and ``outbox.publish``.

Each filter applies only to what a change has: an endpoint filtered by SKU still gets a
``reset`` (which names no SKU), and one filtered by place gets changes that name no place.
Places: a change matches when its location is listed, its group is listed, or its location
is a member of a listed group.
"""

from collections.abc import Mapping

import msgspec


class Subscription(msgspec.Struct, frozen=True):
    endpoint_id: str
    types: frozenset[str]
    skus: frozenset[str] = frozenset()
    locations: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    start_seq: int = 0  # changes at or before this are history it does not get


class Subject(msgspec.Struct, frozen=True):
    """What a change is about, as far as filters look."""

    type: str
    sku: str = ""
    location: str = ""
    group: str = ""


def _in_place(sub: Subscription, subject: Subject, members: Mapping[str, frozenset[str]]) -> bool:
    if not sub.locations and not sub.groups:
        return True
    if not subject.location and not subject.group:
        return True
    if subject.location in sub.locations or subject.group in sub.groups:
        return True
    return any(subject.location in members.get(g, frozenset()) for g in sub.groups)


def matches(sub: Subscription, subject: Subject, members: Mapping[str, frozenset[str]]) -> bool:
    """``members``: each group's locations (at least those of the groups ``sub`` names)."""
    if subject.type not in sub.types:
        return False
    if sub.skus and subject.sku and subject.sku not in sub.skus:
        return False
    return _in_place(sub, subject, members)
