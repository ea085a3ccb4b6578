"""The in-memory replica of the ledger in every engine process.

Load: note each partition's stream position, then SCAN and read every position (not
atomically), then tail the streams from the noted positions. Each event carries the
position *after* it, so applying an event is idempotent and the copy converges to Redis;
it is ready once it has applied everything Redis had when the load finished. It reloads
rather than guessing when a stream was trimmed past its cursor or the ledger's epoch
changed (a rebuild, or a Redis that came back empty). Writes never go through it.
"""

import asyncio
import collections
import collections.abc
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from atp import keys
from atp.events import SHORT
from atp.limits import (
    LEDGER_PARTITIONS,
    REPLICA_BLOCK_MS,
    REPLICA_CHECK_INTERVAL_MS,
    REPLICA_COALESCE_BELOW,
    REPLICA_COALESCE_MS,
    REPLICA_LAG_SAMPLES_MAX,
    REPLICA_READ_BATCH_MAX,
    REPLICA_READY_LAG_MS,
    REPLICA_STALE_AFTER_MS,
    REPLICA_TAIL_COUNT,
)
from atp.model import Supply
from atp.packed import PackedPositions
from atp.redis_io import RedisIO, hash_reply
from atp.rules import SUPPLY_EVENTS, apply_supply_event, day_from_number, day_number
from atp.scripts import load_script
from atp.tasks import cancel_and_wait

log = logging.getLogger(__name__)
_READ = load_script("atp.lua", "read_positions")
_STREAMS = tuple(keys.stream(p) for p in range(LEDGER_PARTITIONS))
# The event fields applied (atp/events.py), named once here for the tail's hot loop.
_SKU, _LOC, _TYPE, _WHY = (SHORT[n] for n in ("sku", "location", "type", "reason"))
_OH, _RS, _SF, _IN = (SHORT[n] for n in ("on_hand", "reserved", "safety", "incoming"))
_DIN, _OS = SHORT["d_incoming"], SHORT["oversold"]


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


class Replica:
    def __init__(self, redis: RedisIO, tail: RedisIO) -> None:
        """``tail`` is a connection of its own: blocking reads would stall ``redis``.
        One multi-stream XREAD follows every partition, so this needs a single Redis."""
        if not (redis.cross_slot_scripts and tail.cross_slot_scripts):
            raise ValueError("the replica follows all partitions in one XREAD: single Redis only")
        self._redis = redis
        self.tail = tail
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
        self.complete_upto: tuple[int, int] = (0, 0)
        self._heard = time.monotonic()  # when the last tail read came back
        self._last_lag_ms = 0.0
        self._targets: list[tuple[int, int]] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    # -- loading -----------------------------------------------------------------------
    async def _stream_info(self) -> list[tuple[str, int, int]]:
        """(last id, entries ever added, length) per partition; zeros for a missing stream."""
        info = []
        for partition in range(LEDGER_PARTITIONS):
            try:
                raw = await self._redis.command("XINFO", "STREAM", keys.stream(partition))
            except Exception as error:  # no such key: the stream has no entry yet
                if "no such key" not in str(error):
                    raise
                info.append(("0-0", 0, 0))
                continue
            fields = hash_reply(raw)
            info.append(
                (
                    str(fields["last-generated-id"]),
                    int(fields["entries-added"]),
                    int(fields["length"]),
                )
            )
        return info

    async def _scan(self, pattern: str) -> "collections.abc.AsyncIterator[list[str]]":
        """SCAN page by page: a million keys are never held at once."""
        cursor = "0"
        while True:
            cursor, batch = await self._redis.command(
                "SCAN", cursor, "MATCH", pattern, "COUNT", REPLICA_READ_BATCH_MAX
            )
            if batch:
                yield batch
            if str(cursor) == "0":
                return

    async def load(self) -> None:
        self.ready = False
        # Only read: the epoch belongs to whoever rebuilds the ledger (durability/rebuild.py).
        # Setting it here could make a Redis that came back empty look whole.
        self.epoch = await self._redis.command("GET", keys.EPOCH)
        started = await self._stream_info()
        self.positions = PackedPositions()
        self.cursors = [last for last, _, _ in started]
        self.cursor_ids = [_stream_id(last) for last in self.cursors]
        self.applied = [added for _, added, _ in started]
        async for page in self._scan(keys.POSITIONS_PATTERN):
            pairs = []
            for key in page:
                location, sku = key.split(":pos:", 1)[1].split(":", 1)
                pairs.append((sku, location))
            await self._load_batch(pairs)
        finished = await self._stream_info()
        self._targets = [_stream_id(last) for last, _, _ in finished]
        self.complete_upto = min(self.cursor_ids)
        self.loads += 1
        self._heard = time.monotonic()
        self._check_ready()

    async def _load_batch(self, pairs: list[tuple[str, str]]) -> None:
        key_list = [keys.position(s, loc) for s, loc in pairs] + [
            keys.incoming(s, loc) for s, loc in pairs
        ]
        if self._redis.cross_slot_scripts:
            groups = [list(range(len(pairs)))]
        else:
            by_partition: dict[int, list[int]] = collections.defaultdict(list)
            for i, (sku, _) in enumerate(pairs):
                by_partition[keys.partition_of_sku(sku)].append(i)
            groups = list(by_partition.values())
        calls = [
            (_READ, [key_list[i] for i in g] + [key_list[len(pairs) + i] for i in g], ["1"])
            for g in groups
        ]
        for group, (flat, supplies) in zip(groups, await self._redis.run_many(calls), strict=True):
            for n, i in enumerate(group):
                sku, location = pairs[i]
                at = 5 * n
                values = (flat[at], flat[at + 1], flat[at + 2], flat[at + 3], flat[at + 4])
                self.positions.set(sku, location, values)
                raw = supplies[n]
                for supply_id, value in zip(raw[::2], raw[1::2], strict=True):
                    qty, day = value.split("|")
                    self.positions.set_supply(
                        sku, location, Supply(supply_id, int(qty), day_from_number(int(day)))
                    )

    def _check_ready(self) -> None:
        if not self.ready and all(
            _stream_id(c) >= t for c, t in zip(self.cursors, self._targets, strict=True)
        ):
            self.ready = True

    # -- tailing -----------------------------------------------------------------------
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

    async def _read_once(self) -> int:
        reply = await self.tail.command(
            "XREAD",
            "COUNT",
            REPLICA_TAIL_COUNT,
            "BLOCK",
            REPLICA_BLOCK_MS,
            "STREAMS",
            *_STREAMS,
            *self.cursors,
        )
        self._heard = time.monotonic()
        if not reply:
            self._last_lag_ms = 0.0  # nothing new for a whole block: nothing pending
            return 0
        apply_fields = self.apply_fields
        applied = 0
        newest, cut = self.complete_upto, None
        oldest_ms = []  # per stream, its first (oldest) entry of this reply
        for stream, entries in _stream_entries(reply):
            partition = keys.partition_of_key(stream)
            for _, flat in entries:
                if isinstance(flat, dict):
                    apply_fields(flat)
                else:
                    it = iter(flat)  # field, value, field, value, ...
                    apply_fields(dict(zip(it, it, strict=False)))
            # Cursor, count and lag once per stream: nothing reads them mid-reply.
            last_id = entries[-1][0]
            last = self.cursor_ids[partition] = _stream_id(last_id)
            self.cursors[partition] = last_id
            self.applied[partition] += len(entries)
            applied += len(entries)
            first = entries[0][0]
            oldest_ms.append(int(first[: first.index("-")]))
            newest = max(newest, last)
            if len(entries) >= REPLICA_TAIL_COUNT:  # more may follow in this stream
                cut = last if cut is None else min(cut, last)
        # The lag ends when reads can see the events (now), not when the reply arrived.
        now_ms = time.time() * 1000
        for ms in oldest_ms:
            self.lag_ms.append(now_ms - ms)
        self._last_lag_ms = now_ms - min(oldest_ms)
        # Claim no more than the millisecond before the newest entry: another stream may
        # still take an id in that same millisecond after Redis answered.
        bound = newest if cut is None else cut
        self.complete_upto = max(self.complete_upto, min(bound, (newest[0] - 1, 0)))
        self._check_ready()
        async with self._changed:
            self._changed.notify_all()
        return applied

    async def _needs_reload(self) -> bool:
        epoch = await self._redis.command("GET", keys.EPOCH)
        if epoch != self.epoch:
            log.warning("ledger epoch changed (%s -> %s): reloading the replica", self.epoch, epoch)
            return True
        for partition, (_, added, length) in enumerate(await self._stream_info()):
            if self.applied[partition] < added - length:
                log.warning("partition %d trimmed past the replica's cursor: reloading", partition)
                return True
            if added < self.applied[partition]:
                log.warning(
                    "partition %d stream started over (Redis emptied): reloading", partition
                )
                return True
        return False

    async def _run(self) -> None:
        checked = time.monotonic()
        while True:
            try:
                if time.monotonic() - checked >= REPLICA_CHECK_INTERVAL_MS / 1000:
                    checked = time.monotonic()
                    if await self._needs_reload():
                        await self.load()
                if 0 < await self._read_once() < REPLICA_COALESCE_BELOW:
                    # A trickle: let a few more events gather rather than pay a round
                    # trip (most of the replica's CPU under load) for each one or two.
                    await asyncio.sleep(REPLICA_COALESCE_MS / 1000)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: stay up, say not ready, load again when it is back
                log.exception("replica tail failed; reloading when Redis answers")
                self.ready = False
                await asyncio.sleep(REPLICA_CHECK_INTERVAL_MS / 1000)
                with contextlib.suppress(Exception):
                    await self.load()

    async def start(self, wait: bool = True) -> None:
        """Loads, then follows the streams. ``wait=False`` loads in the background: a
        server answers (from Redis, and /readyz says not ready) while a big ledger loads."""
        if wait:
            await self.load()
            self._task = asyncio.create_task(self._run(), name="replica-tail")
        else:
            self._task = asyncio.create_task(self._load_then_run(), name="replica-tail")

    async def _load_then_run(self) -> None:
        while True:
            try:
                await self.load()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("replica load failed; trying again")
                await asyncio.sleep(REPLICA_CHECK_INTERVAL_MS / 1000)
        await self._run()

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    # -- freshness -----------------------------------------------------------------------
    def lag_now_ms(self) -> float:
        """How far behind Redis the replica is now: the delay of the last events applied,
        or, when the tail has not heard from Redis for a while, the time since it did."""
        silent_ms = (time.monotonic() - self._heard) * 1000
        if silent_ms > REPLICA_STALE_AFTER_MS:
            return silent_ms
        return max(0.0, self._last_lag_ms)

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
        return self.cursor_ids[partition] >= _stream_id(stream_id)

    async def caught_up(self, targets: Sequence[tuple[int, str]], timeout_s: float) -> bool:
        """Waits until every (partition, stream id) given has been applied."""
        wanted = [(p, _stream_id(i)) for p, i in targets]

        def done() -> bool:
            return all(self.cursor_ids[p] >= i for p, i in wanted)

        async with self._changed:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._changed.wait_for(done)
            except TimeoutError:
                return False
        return True


def _stream_entries(reply: Any) -> list[tuple[str, list[Any]]]:
    return [(stream, entries) for stream, entries in reply]
