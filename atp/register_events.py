"""Store registers (POS) replaying their offline queues: sales, returns and voids.

Two steps per batch, each idempotent:
1. ``register_claim.lua`` records every event in the device's log (one hash in the
   partition of the device id), in device order: an event id is claimed once with its
   body's digest, a device_seq belongs to one event id. Conflicts are answered here and go
   no further.
2. ``register_apply.lua`` applies each claimed event to its position (the partition of its
   SKU) guarded by a receipt, so a replay after a crash between the steps applies it once.
A sale is always accepted: the customer has the item in hand. What it takes beyond the
store's availability is recorded as an oversell, never as a silent negative.
"""

import asyncio
import enum
import functools
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

import msgspec

from atp import keys
from atp.clock import Clock, ServerClock
from atp.keys import device_log
from atp.keys import register_receipt as receipt
from atp.limits import EVENT_STREAM_MAXLEN, LINE_QTY_MAX, RETENTION_S
from atp.model import InvalidInput
from atp.redis_io import Arg, RedisIO
from atp.scripts import load_script
from atp.validate import check_id, check_int

# Bounds of one replay call; an offline register sends its queue in batches of this size.
REGISTER_BATCH_MAX: Final = 500
DEVICE_SEQ_MAX: Final = 2**53 - 1  # device counters travel as JSON numbers

_CLAIM = load_script("atp.lua", "register_claim")
_APPLY = load_script("atp.lua", "register_apply")
_OVERSOLD = load_script("atp.lua", "register_oversold")
_CLAIM_REPLY = 7  # values per event in register_claim's reply


class RegisterEventKind(enum.StrEnum):
    sale = "sale"
    return_ = "return"
    void = "void"


class RegisterEventStatus(enum.StrEnum):
    applied = "applied"
    duplicate = "duplicate"  # same event id and body, seen before: nothing changed again
    conflict = "conflict"  # same event id (or device_seq) with another body


class RegisterEvent(msgspec.Struct, frozen=True):
    kind: RegisterEventKind
    event_id: str
    device_seq: int
    occurred_at_ms: int
    sku: str = ""
    location: str = ""
    qty: int = 0
    voids: str = ""  # a void's target event id

    def digest(self) -> str:
        return (
            f"{self.kind.value}|{self.device_seq}|{self.occurred_at_ms}|{self.sku}|"
            f"{self.location}|{self.qty}|{self.voids}"
        )


def log_record(digest: str) -> tuple[str, dict[str, str | int], str]:
    """A device log entry from an event's body digest (RegisterEvent.digest: ids hold no
    '|'): (device_seq, the record register_claim.lua stores under e:<event_id>, the voided
    event id)."""
    kind, seq, _, sku, location, qty, voids = digest.split("|")
    record: dict[str, str | int] = {
        "d": digest, "s": seq, "k": kind, "sku": sku, "loc": location, "q": int(qty),
    }  # fmt: skip
    return seq, record, voids


class RegisterEventResult(msgspec.Struct, frozen=True):
    event_id: str
    status: RegisterEventStatus
    oversold: int = 0
    detail: str = ""


# -- keys (all carry the partition hash tag of atp.keys) -------------------------------


@functools.lru_cache(maxsize=65_536)
def _position_key(sku: str, location: str) -> str:
    """Availability reads ask for the same hot positions again and again (crc32 and
    formatting cost more than the Redis call's share per position)."""
    return keys.position(sku, location)


# -- validation ------------------------------------------------------------------------


def check_batch(device_id: str, events: Sequence[RegisterEvent]) -> None:
    check_id("device_id", device_id)
    if not 1 <= len(events) <= REGISTER_BATCH_MAX:
        raise InvalidInput("events", f"must hold 1 to {REGISTER_BATCH_MAX} events")
    previous = -1
    for i, event in enumerate(events):
        at = f"events[{i}]"
        check_id(f"{at}.event_id", event.event_id)
        check_int(f"{at}.device_seq", event.device_seq, 0, DEVICE_SEQ_MAX)
        if event.device_seq <= previous:
            raise InvalidInput(f"{at}.device_seq", "must increase within a batch (device order)")
        previous = event.device_seq
        if event.kind is RegisterEventKind.void:
            check_id(f"{at}.voids", event.voids)
        else:
            check_id(f"{at}.sku", event.sku)
            check_id(f"{at}.location", event.location)
            check_int(f"{at}.qty", event.qty, 1, LINE_QTY_MAX)


class Registers:
    def __init__(self, redis: RedisIO, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or ServerClock()

    async def replay(
        self, device_id: str, events: Sequence[RegisterEvent]
    ) -> list[RegisterEventResult]:
        """Apply a register's queue in device order; each event takes effect once."""
        check_batch(device_id, events)
        args: list[Arg] = [RETENTION_S]
        for e in events:
            args += [e.event_id, e.device_seq, e.digest(), e.kind.value]
            args += [e.sku, e.location, e.qty, e.voids]
        flat = await self._redis.run(_CLAIM, [device_log(device_id)], args)
        results: list[RegisterEventResult | None] = [None] * len(events)
        # Order matters within a position (oversells, voids), and a void shares its
        # target's SKU: apply each partition's events in device order, partitions at once.
        by_partition: dict[int, list[tuple[int, RegisterEvent, list[str]]]] = defaultdict(list)
        for i, event in enumerate(events):
            claimed = [str(v) for v in flat[_CLAIM_REPLY * i : _CLAIM_REPLY * (i + 1)]]
            status, kind, sku, loc, qty, detail, target_digest = claimed
            if status == "conflict":
                results[i] = RegisterEventResult(
                    event.event_id, RegisterEventStatus.conflict, 0, detail
                )
                continue
            applied = [kind, sku, loc, qty, target_digest]
            by_partition[keys.partition_of_sku(sku)].append((i, event, applied))
        await asyncio.gather(
            *(self._apply_in_order(device_id, batch, results) for batch in by_partition.values())
        )
        return [r for r in results if r is not None]

    async def _apply_in_order(
        self,
        device_id: str,
        batch: list[tuple[int, RegisterEvent, list[str]]],
        results: list[RegisterEventResult | None],
    ) -> None:
        for i, event, (kind, sku, loc, qty, target_digest) in batch:
            own = receipt(sku, device_id, event.event_id)
            target = receipt(sku, device_id, event.voids) if event.voids else own
            partition = keys.partition_of_sku(sku)
            keys_ = [
                keys.position(sku, loc),
                keys.stream(partition),
                own,
                target,
                keys.shortages(partition),
            ]
            mode = "void" if event.kind is RegisterEventKind.void else kind
            args: list[Arg] = [
                mode,
                sku,
                loc,
                qty,
                f"{device_id}/{event.event_id}",
                self._clock.now_ms(),
                EVENT_STREAM_MAXLEN,
                RETENTION_S,
                event.event_id,
                device_id,
                event.device_seq,
                event.digest(),
                target_digest if event.kind is RegisterEventKind.void else "",
            ]
            status, oversold, detail = await self._redis.run(_APPLY, keys_, args)
            results[i] = RegisterEventResult(
                event.event_id, RegisterEventStatus(status), int(oversold), str(detail)
            )

    async def oversold(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Units oversold at each (sku, location); one call per partition on a cluster."""
        if not pairs:
            return {}
        if self._redis.cross_slot_scripts:
            batches = [list(pairs)]
        else:
            grouped: dict[int, list[tuple[str, str]]] = defaultdict(list)
            for pair in pairs:
                grouped[keys.partition_of_sku(pair[0])].append(pair)
            batches = list(grouped.values())
        replies = await asyncio.gather(
            *(
                self._redis.run(_OVERSOLD, [_position_key(s, loc) for s, loc in batch], [])
                for batch in batches
            )
        )
        return {
            pair: int(v)
            for batch, reply in zip(batches, replies, strict=True)
            for pair, v in zip(batch, reply, strict=True)
        }
