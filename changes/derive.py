"""What a journaled position event means to a storefront: the availability events derived
from it, per channel, at its location and over each group the location belongs to.

Pure: no I/O. The sequencer (changes/sequencer.py) feeds it the journal in each
partition's stream order; a SKU's events all live in one partition, so its crossings are
found in the order they happened, whatever the interleaving of writers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from atp.model import Channel, Position
from changes.limits import GROUP_VIEW_SKUS_MAX

CHANNELS = (Channel.online, Channel.store)
AVAILABILITY_CHANGED = "availability_changed"
WENT_UNAVAILABLE = "went_unavailable"
BACK_IN_STOCK = "back_in_stock"
LOW_STOCK = "low_stock"
DERIVED_TYPES = (AVAILABILITY_CHANGED, WENT_UNAVAILABLE, BACK_IN_STOCK, LOW_STOCK)
# The ledger's position events a storefront may follow (atp/lua, reservations/lua); the
# attention flags and reservation headers stay internal.
LEDGER_TYPES = (
    "adjusted", "counted", "safety_set", "oversold", "pos_voided_ahead",
    "incoming_added", "incoming_removed", "incoming_cancelled", "incoming_received",
    "incoming_redated", "reserved", "rolled_back", "expired", "released", "fulfilled",
    "reservation_moved",
)  # fmt: skip
_PUBLISHED = frozenset(LEDGER_TYPES)
RESET = "reset"
FEED_TYPES = (*LEDGER_TYPES, *DERIVED_TYPES, RESET)
GROUP_DEFINED = "group_defined"


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One journaled event, as the sequencer reads it (durability/store.py's columns)."""

    event_id: str
    stream_id: tuple[int, int]
    type: str
    sku: str
    location: str
    on_hand: int
    reserved: int
    safety: int
    incoming: int
    d_on_hand: int
    d_reserved: int
    d_safety: int
    d_incoming: int
    reason: str
    ts_ms: int

    def after(self) -> Position:
        return Position(
            self.sku, self.location, self.on_hand, self.reserved, self.safety, self.incoming
        )

    def before(self) -> Position:
        return Position(
            self.sku,
            self.location,
            self.on_hand - self.d_on_hand,
            self.reserved - self.d_reserved,
            self.safety - self.d_safety,
            self.incoming - self.d_incoming,
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the feed, before the sequencer numbers it."""

    type: str
    sku: str
    location: str  # '' for a group's change
    group: str  # '' for a location's change
    channel: str  # '' for a ledger event
    event_id: str
    data: dict[str, object]
    ts_ms: int


def crossings(before: int, after: int, threshold: int) -> list[str]:
    """The derived types one ATP move makes: a change, and each line it crosses once."""
    if before == after:
        return []
    found = [AVAILABILITY_CHANGED]
    if before > 0 and after == 0:
        found.append(WENT_UNAVAILABLE)
    elif before == 0 and after > 0:
        found.append(BACK_IN_STOCK)
    if 0 < after <= threshold < before:
        found.append(LOW_STOCK)
    return found


ATP = tuple[int, int]  # online, store
Thresholds = Callable[[str, str, str], int]  # (sku, location, group) -> low-stock threshold


def _atp(position: Position) -> ATP:
    return position.atp(Channel.online), position.atp(Channel.store)


class GroupView:
    """Per SKU, the ATP of each location in some group as of the last event applied:
    enough to total a group before and after each event. The sequencer loads a SKU before
    its first event in a batch (``missing``, then ``put`` with the journal's positions as of
    just before that event); the least recently touched SKUs are dropped beyond a bound."""

    def __init__(self, skus_max: int = GROUP_VIEW_SKUS_MAX) -> None:
        self._skus_max = skus_max
        self._skus: OrderedDict[str, dict[str, ATP]] = OrderedDict()

    def missing(
        self, rows: Iterable[JournalRow], grouped: Mapping[str, object]
    ) -> dict[str, tuple[int, int]]:
        """SKU -> the stream id of its first event here, for SKUs with an event at a
        grouped location that are not loaded."""
        found: dict[str, tuple[int, int]] = {}
        for row in rows:
            if row.location in grouped and row.sku not in self._skus:
                found.setdefault(row.sku, row.stream_id)
        return found

    def put(self, sku: str, atp_by_location: Mapping[str, ATP]) -> None:
        self._skus[sku] = dict(atp_by_location)
        while len(self._skus) > self._skus_max:
            self._skus.popitem(last=False)

    def locations_of(self, sku: str) -> dict[str, ATP]:
        self._skus.move_to_end(sku)
        return self._skus[sku]

    def forget(self) -> None:
        """After a ledger rebuild or a new group: totals are re-read."""
        self._skus.clear()


class Deriver:
    """Turns journal rows, in stream order per partition, into the feed's changes."""

    def __init__(self, groups: Mapping[str, frozenset[str]], thresholds: Thresholds) -> None:
        self.view = GroupView()
        self.thresholds = thresholds
        self.groups: dict[str, frozenset[str]] = {}
        self.groups_of: dict[str, list[str]] = {}
        self.set_groups(groups)

    def set_groups(self, groups: Mapping[str, frozenset[str]]) -> None:
        """New memberships; the group totals are re-read only when they changed (the
        sequencer re-reads the catalog every SEQUENCER_CATALOG_REFRESH_S)."""
        if dict(groups) == self.groups:
            return
        self.groups = dict(groups)
        self.groups_of = {}
        for name, members in sorted(self.groups.items()):
            for location in members:
                self.groups_of.setdefault(location, []).append(name)
        self.view.forget()

    def derive(
        self, rows: Sequence[JournalRow], at: Callable[[int], str]
    ) -> tuple[list[Change], int]:
        """The changes of ``rows`` up to and including the first that redefines a group, and
        how many rows that took: the sequencer loads the SKUs the new groups need (every SKU
        with an event at a grouped location must be in the GroupView) and calls again."""
        out: list[Change] = []
        for taken, row in enumerate(rows, 1):
            if row.type == GROUP_DEFINED:
                self._define_group(row.reason)
                return out, taken
            if row.type not in _PUBLISHED or not row.sku or not row.location:
                continue  # a reservation's header event or an attention flag
            out.append(_ledger_change(row, at))
            before, after = _atp(row.before()), _atp(row.after())
            self._derive_at(out, row, "", row.location, before, after, at)
            if row.location in self.groups_of:
                self._derive_groups(out, row, before, after, at)
        return out, len(rows)

    def _define_group(self, reason: str) -> None:
        name, _, members = reason.partition(":")
        groups = dict(self.groups)
        groups[name] = frozenset(m for m in members.split(",") if m)
        self.set_groups(groups)

    def _derive_groups(
        self, out: list[Change], row: JournalRow, before: ATP, after: ATP, at: Callable[[int], str]
    ) -> None:
        known = self.view.locations_of(row.sku)
        for group in self.groups_of[row.location]:
            rest = [0, 0]
            for location in self.groups[group]:
                if location != row.location and location in known:
                    online, store = known[location]
                    rest[0] += online
                    rest[1] += store
            total_before = (rest[0] + before[0], rest[1] + before[1])
            total_after = (rest[0] + after[0], rest[1] + after[1])
            self._derive_at(out, row, group, "", total_before, total_after, at)
        known[row.location] = after

    def _derive_at(
        self,
        out: list[Change],
        row: JournalRow,
        group: str,
        location: str,
        before: ATP,
        after: ATP,
        at: Callable[[int], str],
    ) -> None:
        threshold = self.thresholds(row.sku, location, group)
        for index, channel in enumerate(CHANNELS):
            for kind in crossings(before[index], after[index], threshold):
                data: dict[str, object] = {"sku": row.sku}
                if group:
                    data["group"] = group
                else:
                    data["location"] = location
                data |= {
                    "channel": channel.value,
                    "atp_before": before[index],
                    "atp_after": after[index],
                    "event_id": row.event_id,
                    "cause": row.type,
                    "at": at(row.ts_ms),
                }
                if kind == LOW_STOCK:
                    data["threshold"] = threshold
                out.append(
                    Change(
                        kind, row.sku, location, group, channel.value, row.event_id, data,
                        row.ts_ms,
                    )
                )  # fmt: skip


def _ledger_change(row: JournalRow, at: Callable[[int], str]) -> Change:
    """The ledger event itself, without who did it or for which reservation: a storefront
    may follow a SKU, not another customer's order."""
    after = row.after()
    deltas = {
        name: value
        for name, value in (
            ("on_hand", row.d_on_hand),
            ("reserved", row.d_reserved),
            ("safety", row.d_safety),
            ("incoming", row.d_incoming),
        )
        if value
    }
    data: dict[str, object] = {
        "sku": row.sku,
        "location": row.location,
        "on_hand": after.on_hand,
        "reserved": after.reserved,
        "safety": after.safety,
        "incoming": after.incoming,
        "atp": {c.value: after.atp(c) for c in CHANNELS},
        "changes": deltas,
        "reason": row.reason,
        "event_id": row.event_id,
        "at": at(row.ts_ms),
    }
    return Change(row.type, row.sku, row.location, "", "", row.event_id, data, row.ts_ms)
