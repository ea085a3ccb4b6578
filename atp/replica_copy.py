"""What the in-memory replica holds and answers (atp/replica.py keeps it in step with
Redis): the packed positions, a cursor per partition, how fresh it is, and how one event
or one stream's entries of a reply are applied."""

import asyncio
import collections
import time
from collections.abc import Sequence
from typing import Any

from atp.events import SHORT
from atp.keys import partition_of_sku
from atp.limits import (
    LEDGER_PARTITIONS,
    REPLICA_LAG_SAMPLES_MAX,
    REPLICA_READY_LAG_MS,
    REPLICA_STALE_AFTER_MS,
)
from atp.model import Supply
from atp.packed import PackedPositions
from atp.rules import SUPPLY_EVENTS, apply_supply_event, day_from_number, day_number

# The event fields applied (atp/events.py), named once here for the tail's hot loop.
_SKU, _LOC, _TYPE, _WHY = (SHORT[n] for n in ("sku", "location", "type", "reason"))
_OH, _RS, _SF, _IN = (SHORT[n] for n in ("on_hand", "reserved", "safety", "incoming"))
_DIN, _OS = SHORT["d_incoming"], SHORT["oversold"]


def parse_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def ms_of(value: str) -> int:
    return int(value[: value.index("-")])


def all_partitions() -> frozenset[int]:
    return frozenset(range(LEDGER_PARTITIONS))


class ReplicaCopy:
    def __init__(self, readers: int, partitions: frozenset[int] | None = None) -> None:
        """``readers``: how many tail readers feed it (one on a single Redis, one per
        partition held on a cluster); each has its own lag and heard time. ``partitions``:
        the ledger partitions it holds (default all); reads of any other go to Redis."""
        self.partitions = all_partitions() if partitions is None else partitions
        self.held = sorted(self.partitions)  # the same, in order
        self.whole = len(self.partitions) == LEDGER_PARTITIONS
        self.positions = PackedPositions()
        self.cursors = ["0-0"] * LEDGER_PARTITIONS  # last applied entry per partition
        self.cursor_ids = [(0, 0)] * LEDGER_PARTITIONS  # the same, parsed (reads compare them)
        self.applied = [0] * LEDGER_PARTITIONS  # global index of that entry in its stream
        self.epoch: str | None = None  # as read at load; None when the ledger has none
        self.ready = False
        self.loads = 0
        self.lag_ms: collections.deque[float] = collections.deque(maxlen=REPLICA_LAG_SAMPLES_MAX)
        # Every event of every partition up to this stream id is applied: one XREAD reads
        # all partitions at one instant, so a reply no stream of which was cut at COUNT
        # brings everything written before it (up to the millisecond before its newest).
        # A cluster's readers read one partition each: it stays where the load left it.
        self.complete_upto: tuple[int, int] = (0, 0)
        # Per reader: when its last read came back, and the delay of what it last applied.
        self._heard = [time.monotonic()] * readers
        self._last_lag_ms = [0.0] * readers
        self._targets: list[tuple[int, int]] = []
        self._changed = asyncio.Condition()

    def _check_ready(self) -> None:
        if not self.ready and all(parse_id(self.cursors[p]) >= self._targets[p] for p in self.held):
            self.ready = True

    def holds(self, skus: Sequence[str]) -> bool:
        """Whether every one of these SKUs' partitions is held here."""
        if self.whole:
            return True
        return all(partition_of_sku(sku) in self.partitions for sku in skus)

    # -- applying ----------------------------------------------------------------------
    def apply_fields(self, fields: dict[str, str]) -> None:
        """One event's effect (the tail loop moves cursors and samples lag per reply).
        A position event carries the whole position after it; deltas and ATP are not
        needed here."""
        sku = fields.get(_SKU)
        if not sku:  # reservation header events: no position changes
            return
        location = fields[_LOC]
        values = (int(fields[_OH]), int(fields[_RS]), int(fields[_SF]), int(fields[_IN]))
        oversold = fields.get(_OS)  # only on the events that change it
        if oversold is None:
            self.positions.set_position(sku, location, values)
        else:
            self.positions.set(sku, location, (*values, int(oversold)))
        kind = fields[_TYPE]
        if kind in SUPPLY_EVENTS:
            self._apply_supply(sku, location, kind, fields)

    def _apply_supply(self, sku: str, location: str, kind: str, fields: dict[str, str]) -> None:
        """A supply event changes the position's supplies as the scripts and a rebuild do
        (atp.rules.apply_supply_event): one rule for all three."""
        at = self.positions.supplies_at(sku, location)
        state = {s.supply_id: (s.qty, day_number(s.expected_on)) for s in at}
        # A delta of 0 is not carried (atp/events.py), a re-dating's for one.
        apply_supply_event(state, kind, fields[_WHY], int(fields.get(_DIN, 0)))
        for supply in at:
            if supply.supply_id not in state:
                self.positions.drop_supply(sku, location, supply.supply_id)
        for supply_id, (qty, day) in state.items():
            self.positions.set_supply(sku, location, Supply(supply_id, qty, day_from_number(day)))

    def _apply_entries(self, partition: int, entries: list[Any]) -> tuple[int, int]:
        """One stream's entries of a reply, in order; moves the partition's cursor (once:
        nothing reads it mid-reply). Returns the last entry's id."""
        apply_fields = self.apply_fields
        for _, flat in entries:
            if isinstance(flat, dict):
                apply_fields(flat)
            else:
                it = iter(flat)  # field, value, field, value, ...
                apply_fields(dict(zip(it, it, strict=False)))
        last_id = entries[-1][0]
        last = self.cursor_ids[partition] = parse_id(last_id)
        self.cursors[partition] = last_id
        self.applied[partition] += len(entries)
        return last

    # -- freshness -----------------------------------------------------------------------
    def lag_now_ms(self) -> float:
        """How far behind Redis the replica is now: the delay of the last events applied,
        or, when the tail has not heard from Redis for a while, the time since it did."""
        silent_ms = (time.monotonic() - min(self._heard)) * 1000
        if silent_ms > REPLICA_STALE_AFTER_MS:
            return silent_ms
        return max(0.0, *self._last_lag_ms)

    @property
    def serving(self) -> bool:
        """Fit to answer reads: loaded, and trailing Redis by no more than
        REPLICA_READY_LAG_MS (readiness, the API's reads and routing all ask this)."""
        return self.ready and self.lag_now_ms() <= REPLICA_READY_LAG_MS

    def as_of(self, partitions: Sequence[int]) -> str:
        """The stream id ("ms-seq") up to which every event of these partitions is applied."""
        ids = self.cursor_ids
        if len(partitions) == 1:  # the single-SKU read: no generator
            done = ids[partitions[0]]
        else:
            done = min(ids[p] for p in partitions) if partitions else (0, 0)
        ms, seq = max(done, self.complete_upto)
        return f"{ms}-{seq}"

    def has_applied(self, partition: int, stream_id: str) -> bool:
        return self.cursor_ids[partition] >= parse_id(stream_id)

    async def caught_up(self, targets: Sequence[tuple[int, str]], timeout_s: float) -> bool:
        """Waits until every (partition, stream id) given has been applied."""
        wanted = [(p, parse_id(i)) for p, i in targets]

        def done() -> bool:
            return all(self.cursor_ids[p] >= i for p, i in wanted)

        async with self._changed:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._changed.wait_for(done)
            except TimeoutError:
                return False
        return True
