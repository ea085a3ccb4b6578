"""The tail loop proposed in bench/out/replica-proposal.diff, as a subclass, so the benchmark
can measure it (``--replica-variant proposed``) before anyone edits atp/replica.py.

Differences from ``Replica._read_once`` / ``Replica.apply``:
- fields via ``dict(zip(it, it))`` over one iterator (no two slice copies, no strict check);
- cursor, parsed cursor, count and lag once per stream of the reply, not once per entry;
- the lag is taken after the reply is applied (when reads can see it), per stream from its
  oldest entry (the worst of the reply), rather than at arrival for every entry;
- the 32 stream names are built once;
- after a small reply the loop waits ``COALESCE_MS`` before the next XREAD, so a trickle of
  events is taken a few at a time instead of one round trip each: under load most of the
  replica's CPU is per XREAD (the socket write, packing 70 arguments), not per event.
"""

from __future__ import annotations

import asyncio
import time

from atp import keys
from atp.limits import LEDGER_PARTITIONS, REPLICA_BLOCK_MS, REPLICA_READ_BATCH_MAX
from atp.model import Supply
from atp.replica import Replica, _stream_entries, _stream_id
from atp.rules import day_from_number

COALESCE_MS = 2  # proposed REPLICA_COALESCE_MS
COALESCE_BELOW = 64  # proposed REPLICA_COALESCE_BELOW: replies smaller than this wait
_STREAMS = tuple(keys.stream(p) for p in range(LEDGER_PARTITIONS))


class ProposedReplica(Replica):
    coalesce_ms: float = COALESCE_MS

    def _apply_fields(self, fields: dict[str, str]) -> None:
        sku = fields["sku"]
        if not sku:  # reservation header events: nothing held here
            return
        location = fields["loc"]
        values = (int(fields["oh"]), int(fields["rs"]), int(fields["sf"]), int(fields["in"]))
        oversold = fields.get("os")
        if oversold is None:
            self.positions.set_position(sku, location, values)
        else:
            self.positions.set(sku, location, (*values, int(oversold)))
        kind = fields["t"]
        if kind == "incoming_added":
            supply_id, _, day = fields["why"].rpartition("@")
            supply = Supply(supply_id, int(fields["din"]), day_from_number(int(day)))
            self.positions.set_supply(sku, location, supply)
        elif kind == "incoming_removed":
            self.positions.drop_supply(sku, location, fields["why"])

    async def _read_once(self) -> int:
        reply = await self.tail.command(
            "XREAD",
            "COUNT",
            REPLICA_READ_BATCH_MAX,
            "BLOCK",
            REPLICA_BLOCK_MS,
            "STREAMS",
            *_STREAMS,
            *self.cursors,
        )
        self._heard = time.monotonic()
        if not reply:
            self._last_lag_ms = 0.0
            return 0
        apply_fields = self._apply_fields
        applied = 0
        newest, cut = self.complete_upto, None
        oldest_ms = []
        for stream, entries in _stream_entries(reply):
            partition = keys.partition_of_key(stream)
            for _, flat in entries:
                if isinstance(flat, dict):
                    apply_fields(flat)
                else:
                    it = iter(flat)
                    apply_fields(dict(zip(it, it, strict=False)))
            last_id = entries[-1][0]
            last = self.cursor_ids[partition] = _stream_id(last_id)
            self.cursors[partition] = last_id
            self.applied[partition] += len(entries)
            applied += len(entries)
            first = entries[0][0]
            oldest_ms.append(int(first[: first.index("-")]))
            newest = max(newest, last)
            if len(entries) >= REPLICA_READ_BATCH_MAX:
                cut = last if cut is None else min(cut, last)
        now_ms = time.time() * 1000  # applied: reads see these events from now
        for ms in oldest_ms:
            self.lag_ms.append(now_ms - ms)
        self._last_lag_ms = now_ms - min(oldest_ms)
        self.complete_upto = max(self.complete_upto, newest if cut is None else cut)
        self._check_ready()
        async with self._changed:
            self._changed.notify_all()
        if applied < COALESCE_BELOW and self.coalesce_ms > 0:
            await asyncio.sleep(self.coalesce_ms / 1000)
        return applied
