"""The journal writer: a consumer group on every partition stream, writing to PostgreSQL.

Each round reads up to a batch from every partition (its own pending entries first after
a restart, then entries idle too long at a dead consumer via XAUTOCLAIM, then new ones),
writes them in one transaction and acknowledges them only after it commits. A crash
between commit and XACK leaves entries pending; whoever reads them again writes nothing
twice (the journal is keyed by event id).

It journals only while Redis holds a ledger epoch and every partition its copy of it
(durability/fence.py), read before and again after a round's reads, and writes a round only
if that epoch is still the journal's newest (durability/store.py): entries written into a
Redis (or, on a cluster, a master) that restarted empty describe a ledger that is about to
be rebuilt, not the truth.
"""

import asyncio
import logging
import time

import asyncpg
from redis.exceptions import ResponseError

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.redis_io import RedisIO
from durability.limits import (
    JOURNAL_BATCH_MAX,
    JOURNAL_CLAIM_IDLE_MS,
    JOURNAL_CONSUMER_GROUP,
)
from durability.store import Entry, StaleEpoch, write_entries
from durability.streams import PARTITIONS, current_epoch, entries_of

log = logging.getLogger(__name__)

POLL_IDLE_S = 0.05  # pause when a round found nothing


async def create_groups(redis: RedisIO, start_id: str = "0") -> None:
    """The consumer group on every stream (created with the stream if missing)."""
    for p in PARTITIONS:
        try:
            await redis.command(
                "XGROUP", "CREATE", keys.stream(p), JOURNAL_CONSUMER_GROUP, start_id, "MKSTREAM"
            )
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise


class JournalWriter:
    def __init__(
        self,
        redis: RedisIO,
        pool: asyncpg.Pool,
        consumer: str,
        batch_max: int = JOURNAL_BATCH_MAX,
        claim_idle_ms: int = JOURNAL_CLAIM_IDLE_MS,
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.consumer = consumer
        self.per_partition = max(1, batch_max // LEDGER_PARTITIONS)
        self.claim_idle_ms = claim_idle_ms
        self.written_total = 0  # events new to the journal
        self.read_total = 0
        self._own_pending = True  # after a (re)start, first re-read what we were given
        self._next_claim_s = 0.0

    async def _read(self, partition: int) -> tuple[int, list[Entry], list[str]]:
        stream = keys.stream(partition)
        start = "0" if self._own_pending else ">"
        reply = await self.redis.command(
            "XREADGROUP",
            "GROUP",
            JOURNAL_CONSUMER_GROUP,
            self.consumer,
            "COUNT",
            self.per_partition,
            "STREAMS",
            stream,
            start,
        )
        raw = reply[0][1] if reply else []
        return (partition, *entries_of(partition, raw))

    async def _claim(self, partition: int) -> tuple[int, list[Entry], list[str]]:
        reply = await self.redis.command(
            "XAUTOCLAIM",
            keys.stream(partition),
            JOURNAL_CONSUMER_GROUP,
            self.consumer,
            self.claim_idle_ms,
            "0-0",
            "COUNT",
            self.per_partition,
        )
        entries, gone = entries_of(partition, reply[1])
        return partition, entries, gone + [str(i) for i in (reply[2] if len(reply) > 2 else [])]

    async def _read_all(self) -> list[tuple[int, list[Entry], list[str]]]:
        reads = list(await asyncio.gather(*(self._read(p) for p in PARTITIONS)))
        if self._own_pending and not any(got or gone for _, got, gone in reads):
            self._own_pending = False  # nothing of ours left over: on to new entries
            reads = list(await asyncio.gather(*(self._read(p) for p in PARTITIONS)))
        return reads

    async def step(self) -> int:
        """One round: read, journal, acknowledge. Returns how many entries it handled."""
        epoch = await current_epoch(self.redis)
        if epoch is None:
            return 0
        try:
            reads = await self._read_all()
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await create_groups(self.redis)
            return 0
        if time.monotonic() >= self._next_claim_s:
            self._next_claim_s = time.monotonic() + self.claim_idle_ms / 2000
            reads += await asyncio.gather(*(self._claim(p) for p in PARTITIONS))
        entries = [e for _, got, _ in reads for e in got]
        if entries and await current_epoch(self.redis) != epoch:
            return 0  # a master lost its data meanwhile: what was read may not be the ledger's
        acks: dict[int, set[str]] = {}
        for partition, got, gone in reads:
            # An id whose body was trimmed before we read it has nothing left to journal.
            ids = {stream_id for _, stream_id, _ in got} | set(gone)
            if ids:
                acks.setdefault(partition, set()).update(ids)
        if entries:
            try:
                async with self.pool.acquire() as conn:
                    self.written_total += await write_entries(conn, entries, epoch)
            except StaleEpoch:
                return 0  # rebuilt while we read: those entries are not the ledger's
            self.read_total += len(entries)
        await asyncio.gather(
            *(
                self.redis.command("XACK", keys.stream(p), JOURNAL_CONSUMER_GROUP, *sorted(ids))
                for p, ids in acks.items()
            )
        )
        return len(entries)

    async def drain(self) -> int:
        """Rounds until one finds nothing; for tools and tests."""
        total = 0
        while handled := await self.step():
            total += handled
        return total

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Runs until ``stop`` is set (or cancelled); an outage is logged and retried."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                handled = await self.step()
            except Exception:  # an outage, or a client's surprise: the consumer stays up
                log.exception("journal round failed; retrying")
                handled = 0
                await asyncio.sleep(1)
            if not handled:
                await asyncio.sleep(POLL_IDLE_S)
