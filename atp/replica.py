"""The in-memory replica of the ledger in every engine process.

Load: note each partition's stream position, then SCAN and read every position (not
atomically), then tail the streams from the noted positions. Each event carries the
position *after* it, so applying an event is idempotent and the copy converges to Redis;
it is ready once it has applied everything Redis had when the load finished. It reloads
rather than guessing when a stream was trimmed past its cursor or the ledger's epoch
changed (a rebuild, or a Redis that came back empty). Writes never go through it.

A single Redis is followed by one XREAD over every partition (``tail``); a Redis Cluster
by one reader per partition (atp/replica_tail.py), each with its own lag and heard time.

A replica may hold only some partitions (``partitions``, ATP_REPLICA_PARTITIONS): it loads
and follows just those, and reads of SKUs elsewhere go to Redis (atp/replica_reads.py), so
processes that each serve a share of the SKUs (a load balancer routing by partition) keep
that share of the ledger in memory, not all of it (README, capacity model).
What the replica holds and answers (cursors, as_of, freshness, applying an event) is
atp/replica_copy.py; what a load reads, atp/replica_load.py.
"""

import asyncio
import contextlib
import logging
import time
from typing import Any

from atp import keys
from atp.limits import (
    REPLICA_BLOCK_MS,
    REPLICA_CHECK_INTERVAL_MS,
    REPLICA_COALESCE_BELOW,
    REPLICA_COALESCE_MS,
    REPLICA_TAIL_COUNT,
)
from atp.packed import PackedPositions
from atp.redis_io import RedisIO
from atp.replica_copy import ReplicaCopy, all_partitions, ms_of, parse_id
from atp.replica_load import load_batch, position_pages, stream_info
from atp.replica_tail import PartitionReaders
from atp.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class Replica(ReplicaCopy):
    def __init__(
        self, redis: RedisIO, tail: RedisIO, partitions: frozenset[int] | None = None
    ) -> None:
        """``tail`` is a connection of its own: blocking reads would stall ``redis``. On a
        single Redis one multi-stream XREAD on it follows every partition held; on a
        cluster (``redis`` cannot run cross-slot scripts) it is unused: each partition
        gets a reader of its own."""
        self._cluster = not redis.cross_slot_scripts
        held = all_partitions() if partitions is None else partitions
        super().__init__(len(held) if self._cluster else 1, held)
        self._reader_of = {p: i for i, p in enumerate(self.held)}  # a cluster's readers
        self._streams = [keys.stream(p) for p in self.held]
        self._redis = redis
        self.tail = tail
        self._task: asyncio.Task[None] | None = None

    # -- loading -----------------------------------------------------------------------
    async def _stream_info(self) -> list[tuple[str, int, int]]:
        return await stream_info(self._redis)

    async def load(self) -> None:
        self.ready = False
        # Only read: the epoch belongs to whoever rebuilds the ledger (durability/rebuild.py).
        # Setting it here could make a Redis that came back empty look whole.
        self.epoch = await self._redis.command("GET", keys.EPOCH)
        started = await self._stream_info()
        self.positions = PackedPositions()
        self.cursors = [last for last, _, _ in started]
        self.cursor_ids = [parse_id(last) for last in self.cursors]
        self.applied = [added for _, added, _ in started]
        async for page in position_pages(self._redis):
            pairs = []
            for key in page:
                if self.whole or keys.partition_of_key(key) in self.partitions:
                    location, sku = key.split(":pos:", 1)[1].split(":", 1)
                    pairs.append((sku, location))
            if pairs:
                await load_batch(self._redis, self.positions, pairs)
        finished = await self._stream_info()
        self._targets = [parse_id(last) for last, _, _ in finished]
        self.complete_upto = min(self.cursor_ids[p] for p in self.held)
        self.loads += 1
        self._heard = [time.monotonic()] * len(self._heard)
        self._check_ready()

    # -- tailing -----------------------------------------------------------------------
    async def _read_once(self) -> int:
        """One XREAD over every partition held (single Redis)."""
        reply = await self.tail.command(
            "XREAD",
            "COUNT",
            REPLICA_TAIL_COUNT,
            "BLOCK",
            REPLICA_BLOCK_MS,
            "STREAMS",
            *self._streams,
            *(self.cursors[p] for p in self.held),
        )
        self._heard[0] = time.monotonic()
        if not reply:
            self._last_lag_ms[0] = 0.0  # nothing new for a whole block: nothing pending
            return 0
        applied = 0
        newest, cut = self.complete_upto, None
        oldest_ms = []  # per stream, its first (oldest) entry of this reply
        for stream, entries in _stream_entries(reply):
            last = self._apply_entries(keys.partition_of_key(stream), entries)
            applied += len(entries)
            oldest_ms.append(ms_of(entries[0][0]))
            newest = max(newest, last)
            if len(entries) >= REPLICA_TAIL_COUNT:  # more may follow in this stream
                cut = last if cut is None else min(cut, last)
        # The lag ends when reads can see the events (now), not when the reply arrived.
        now_ms = time.time() * 1000
        for ms in oldest_ms:
            self.lag_ms.append(now_ms - ms)
        self._last_lag_ms[0] = now_ms - min(oldest_ms)
        # Claim no more than the millisecond before the newest entry: another stream may
        # still take an id in that same millisecond after Redis answered.
        bound = newest if cut is None else cut
        self.complete_upto = max(self.complete_upto, min(bound, (newest[0] - 1, 0)))
        self._check_ready()
        async with self._changed:
            self._changed.notify_all()
        return applied

    async def _on_partition_reply(self, partition: int, reply: Any) -> int:
        """A cluster reader's reply (atp/replica_tail.py): only its partition moves, so
        ``complete_upto`` stays where the load left it and ``as_of`` is per partition."""
        reader = self._reader_of[partition]
        self._heard[reader] = time.monotonic()
        if not reply:
            self._last_lag_ms[reader] = 0.0
            return 0
        entries = reply[0][1]
        self._apply_entries(partition, entries)
        lag = time.time() * 1000 - ms_of(entries[0][0])
        self.lag_ms.append(lag)
        self._last_lag_ms[reader] = lag
        self._check_ready()
        async with self._changed:
            self._changed.notify_all()
        return len(entries)

    async def _needs_reload(self) -> bool:
        epoch = await self._redis.command("GET", keys.EPOCH)
        if epoch != self.epoch:
            log.warning("ledger epoch changed (%s -> %s): reloading the replica", self.epoch, epoch)
            return True
        for partition, (_, added, length) in enumerate(await self._stream_info()):
            if partition not in self.partitions:
                continue  # not followed: its cursor stays where the load left it
            if self.applied[partition] < added - length:
                log.warning("partition %d trimmed past the replica's cursor: reloading", partition)
                return True
            if added < self.applied[partition]:
                log.warning(
                    "partition %d stream started over (Redis emptied): reloading", partition
                )
                return True
        return False

    async def _follow_cluster(self) -> None:
        """The partition readers, until a reload is due (returns) or a reader fails (raises)."""
        readers = PartitionReaders(
            self._redis, self.held, lambda p: self.cursors[p], self._on_partition_reply
        )
        await readers.open()
        following = asyncio.create_task(readers.run(), name="replica-partitions")
        try:
            while True:
                done, _ = await asyncio.wait([following], timeout=REPLICA_CHECK_INTERVAL_MS / 1000)
                if done:
                    following.result()  # raises what ended the readers
                if await self._needs_reload():
                    return
        finally:
            await cancel_and_wait(following)
            await readers.close()

    async def _run(self) -> None:
        if self._cluster:
            await self._run_cluster()
            return
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

    async def _run_cluster(self) -> None:
        while True:
            try:
                await self._follow_cluster()  # returns when a reload is due
            except asyncio.CancelledError:
                raise
            except Exception:  # a master away or a slot moved: not ready, load again
                log.exception("replica readers failed; reloading when the cluster answers")
                self.ready = False
                await asyncio.sleep(REPLICA_CHECK_INTERVAL_MS / 1000)
            # Readers start again only from a load that succeeded: never from cursors
            # into streams that may have started over.
            await self._load_until_loaded()

    async def start(self, wait: bool = True) -> None:
        """Loads, then follows the streams. ``wait=False`` loads in the background: a
        server answers (from Redis, and /readyz says not ready) while a big ledger loads."""
        if wait:
            await self.load()
            self._task = asyncio.create_task(self._run(), name="replica-tail")
        else:
            self._task = asyncio.create_task(self._load_then_run(), name="replica-tail")

    async def _load_then_run(self) -> None:
        await self._load_until_loaded()
        await self._run()

    async def _load_until_loaded(self) -> None:
        while True:
            try:
                await self.load()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("replica load failed; trying again")
                await asyncio.sleep(REPLICA_CHECK_INTERVAL_MS / 1000)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)


def _stream_entries(reply: Any) -> list[tuple[str, list[Any]]]:
    return [(stream, entries) for stream, entries in reply]
