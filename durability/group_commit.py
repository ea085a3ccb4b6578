"""Group commit: an engine process acknowledges a write only once its events are in
PostgreSQL.

After a write's Lua script returns, its events are in the partition streams. ``sync()``
queues the caller with the partitions its write touched; one flusher task per process
reads those streams past its cursors (all entries appended before the flush began, its own
and other processes'), writes them in one statement (idempotent by event id, so the
stream consumer writing them again later is harmless) and then resolves every caller
queued before the flush began. Callers that arrive during a flush ride the next one: one
PostgreSQL commit per flush, not per write.

Each read round also reads the ledger epoch on the same connection, and each partition is
read together with its own copy of the epoch (durability/fence.py), in one script; the
write to PostgreSQL is fenced by that epoch too (durability/store.py). If
Redis restarted empty, or on a cluster one master did, an epoch or a copy is gone: the
flush journals nothing (those entries were written into an empty ledger), fails its callers
with LedgerUnavailable, and the process rebuilds (or waits for another process's rebuild)
before it accepts writes again. Every copy is also checked at least every
DURABILITY_HEALTH_INTERVAL_MS, busy or idle, so a master whose partitions no write touches
is found lost too.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg
from redis.exceptions import RedisError

from atp import keys
from atp.model import LedgerUnavailable, StockOutcome
from atp.redis_io import RedisIO
from atp.tasks import cancel_and_wait
from durability.journal_cursor import advance, read_after
from durability.limits import DURABILITY_HEALTH_INTERVAL_MS, DURABILITY_READ_MAX, JOURNAL_BATCH_MAX
from durability.rebuild import ensure_ledger
from durability.store import Entry, StaleEpoch, write_entries
from durability.streams import EPOCH_KEY, PARTITIONS, current_epoch
from reservations.model import Reservation

log = logging.getLogger(__name__)

R = TypeVar("R")


class _EpochChanged(Exception):
    pass


class Durability:
    def __init__(
        self,
        redis: RedisIO,
        pool: asyncpg.Pool,
        read_max: int = DURABILITY_READ_MAX,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.redis = redis
        # Called after every (re)start of the ledger, e.g. to re-mark it for a readiness check.
        self.on_ready = on_ready
        self.pool = pool
        self.read_max = read_max
        self.healthy = False
        self.flushes = 0
        self.events_written = 0
        self.rebuilds = 0
        # Bumped whenever the ledger is found lost: a write that began in an older
        # generation may have run against the empty or half-rebuilt ledger, so its wait fails.
        self.generation = 0
        # Where flushes spend their time (the benchmark reports these).
        self.read_s_total = 0.0
        self.write_s_total = 0.0
        self._epoch: str | None = None
        self._whole_checked_s = 0.0  # when every partition's copy of the epoch was last read
        self._cursors: dict[int, str] = {}
        self._journaled: dict[int, str] = {}  # last entry written per partition, to share
        self._waiters: list[asyncio.Future[None]] = []
        self._wanted: set[int] = set()  # partitions the queued waiters need read
        self._inflight: list[asyncio.Future[None]] = []  # waiters of the running flush
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Rebuilds the ledger if Redis lost it, then starts the flusher."""
        await self._recover()
        self._task = asyncio.create_task(self._run(), name="durability-flusher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        stopped = LedgerUnavailable("durability stopped")
        self._fail(self._inflight + self._waiters, stopped)
        self._waiters, self._inflight = [], []

    def check(self) -> int:
        """The current generation; raises while the ledger is unavailable."""
        if not self.healthy:
            raise LedgerUnavailable("the ledger is being rebuilt from PostgreSQL; retry")
        return self.generation

    async def sync(
        self, partitions: Iterable[int] | None = None, generation: int | None = None
    ) -> None:
        """Returns once every event appended before this call to ``partitions`` (default
        all) is in PostgreSQL. Each partition is read in order from its cursor, so naming
        fewer partitions never leaves a gap: the others are read when someone needs them."""
        if self.check() != (self.generation if generation is None else generation):
            raise LedgerUnavailable("the ledger was rebuilt while this write ran; retry")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wanted.update(PARTITIONS if partitions is None else partitions)
        self._waiters.append(future)
        self._wake.set()
        await future

    async def _recover(self) -> None:
        self.healthy = False
        self.generation += 1
        # Writes queued during the flush that found the loss ran against the lost ledger.
        self._fail(self._waiters, LedgerUnavailable("Redis lost the ledger; rebuilding"))
        self._waiters, self._wanted = [], set()
        # Ids of the lost ledger's streams: shared with the new one they could lie past its
        # first entries, and every process would skip those.
        self._journaled = {}
        while True:
            try:
                async with self.pool.acquire() as conn:
                    if await ensure_ledger(self.redis, conn) is not None:
                        self.rebuilds += 1
                epoch = await current_epoch(self.redis)
                if epoch is None or epoch != self._epoch or not self._cursors:
                    # A new ledger (or the first start): each read begins at the shared
                    # journal cursor (the whole stream where there is none yet), never at
                    # the streams' ends, which may lie past another process's unjournaled
                    # write: sharing that point would make that process skip it.
                    self._cursors = dict.fromkeys(PARTITIONS, "0-0")
                # Else the same ledger came through a lost PostgreSQL or Redis connection:
                # the cursors stay, so the next flush journals what the failed one did not
                # (skipping to the streams' ends would leave acknowledged retries unjournaled).
                self._epoch = epoch
                if self._epoch is not None:
                    if self.on_ready is not None:
                        await self.on_ready()
                    self.healthy = True
                    return
            except Exception:  # whatever it was, the one task that can heal must not end
                log.warning("ledger recovery failed; retrying", exc_info=True)
            await asyncio.sleep(DURABILITY_HEALTH_INTERVAL_MS / 1000)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DURABILITY_HEALTH_INTERVAL_MS / 1000)
            self._wake.clear()
            waiters, self._waiters = self._waiters, []
            self._inflight = waiters  # failed by stop() if it cancels this flush
            wanted, self._wanted = sorted(self._wanted), set()
            try:
                due = not waiters or self._whole_check_due()
                if due and await self._idle_epoch() != self._epoch:
                    raise _EpochChanged
                if waiters:
                    await self._flush(wanted)
            except (_EpochChanged, StaleEpoch):
                self._fail(waiters, LedgerUnavailable("Redis lost the ledger; rebuilding"))
                await self._recover()
                continue
            except Exception as error:  # not acknowledged: the callers see why
                log.warning("durability flush failed", exc_info=True)
                self._fail(waiters, error)
                if isinstance(error, (OSError, RedisError)):
                    await self._recover()
                continue
            for future in waiters:
                if not future.done():
                    future.set_result(None)

    def _whole_check_due(self) -> bool:
        return time.monotonic() - self._whole_checked_s >= DURABILITY_HEALTH_INTERVAL_MS / 1000

    async def _idle_epoch(self) -> str | None:
        """The ledger's epoch if every partition still holds it, read when no write waits
        or when the last such read is older than the health interval (a lost Redis, or a
        lost master of a cluster, is found even then)."""
        self._whole_checked_s = time.monotonic()
        epoch, *_ = await asyncio.gather(current_epoch(self.redis), *self._share_cursors())
        return epoch

    def _share_cursors(self) -> list[Awaitable[None]]:
        """Tells the other processes how far the journal now goes (journal_cursor.py):
        sent with the next read round, in its socket write, not one of its own. Only saves
        them work: a share lost with a failed round is harmless."""
        journaled, self._journaled = self._journaled, {}
        return [advance(self.redis, p, s) for p, s in journaled.items()]

    @staticmethod
    def _fail(waiters: list[asyncio.Future[None]], error: BaseException) -> None:
        for future in waiters:
            if not future.done():
                future.set_exception(error)

    async def _read_round(
        self, partitions: list[int], cursors: dict[int, str]
    ) -> list[list[Entry]]:
        """Each partition's entries after its cursor or the shared journal cursor, whichever
        is later (moving ``cursors`` there)."""
        # The epoch read and the stream reads go out in one write on one connection, so the
        # entries come from the Redis that still holds this epoch; each read also carries
        # its partition's copy, read in the same script (on a cluster, the same master).
        shares = self._share_cursors()
        epoch, *reads = await asyncio.gather(
            self.redis.command("GET", EPOCH_KEY),
            *(read_after(self.redis, p, cursors[p], self.read_max) for p in partitions),
            *shares,
        )
        del reads[len(partitions) :]
        if epoch is None or str(epoch) != self._epoch:
            raise _EpochChanged
        if any(copy != self._epoch for copy, _, _ in reads):
            raise _EpochChanged  # a partition lost its data (on a cluster: its master)
        for partition, (_, start, _) in zip(partitions, reads, strict=True):
            cursors[partition] = start  # another process journaled up to here
        return [entries for _, _, entries in reads]

    async def _flush(self, partitions: list[int]) -> None:
        pending = partitions
        batch: list[Entry] = []
        cursors = dict(self._cursors)
        while pending:
            started = time.perf_counter()
            reads = await self._read_round(pending, cursors)
            self.read_s_total += time.perf_counter() - started
            still = []
            for partition, got in zip(pending, reads, strict=True):
                if got:
                    batch += got
                    cursors[partition] = got[-1][1]
                if len(got) >= self.read_max:
                    still.append(partition)
            pending = still
            if len(batch) >= JOURNAL_BATCH_MAX or not pending:
                await self._write(batch)
                self._cursors.update(cursors)
                for partition, stream_id, _ in batch:
                    self._journaled[partition] = stream_id
                batch = []
        self.flushes += 1

    async def _write(self, batch: list[Entry]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        # The held events carry what the journal records of their headers: no Redis read.
        assert self._epoch is not None  # healthy: a flush runs only under an epoch
        async with self.pool.acquire() as conn:
            self.events_written += await write_entries(conn, batch, self._epoch)
        self.write_s_total += time.perf_counter() - started


def touched_partitions(result: object) -> list[int] | None:
    """The partitions whose streams got the events of the write that returned ``result``;
    None (read them all) when the result does not say."""
    if isinstance(result, StockOutcome):
        return [keys.partition_of_sku(result.position.sku)]
    reservation = getattr(result, "reservation", None)
    if isinstance(reservation, Reservation):
        found = {keys.partition_of_sku(line.sku) for line in reservation.lines}
        found.add(keys.partition_of_reservation(reservation.id))
        return sorted(found)
    return None


async def acknowledged(durability: Durability, write: Callable[[], Awaitable[R]]) -> R:
    """Runs ``write``: refused while the ledger is unavailable, returned only once every
    event it appended is durable."""
    generation = durability.check()
    result = await write()
    await durability.sync(touched_partitions(result), generation)
    return result
