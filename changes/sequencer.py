"""The sequencer: turns the durable journal into the changes feed, one process at a time.

Each round it notes how far each partition's stream goes, waits for the group commit to
make everything up to there durable (Durability.sync), then in one transaction reads the
journal past its cursors up to those points, derives the availability events, appends
them all with the next seq numbers, and moves its cursors. A journal row is therefore in
the feed once, in its partition's order, and only once PostgreSQL has it: a change never
announces what a lost Redis could take back. Readers see rows in seq order because only
the advisory-lock holder writes, one transaction at a time, on the lock's own session.

After Redis lost the ledger, the journal's last events of the old ledger come first (a
rebuild resumes each stream past the journal's newest id, so they are the ones before each
stream's first entry since), then a `reset` change telling clients to read availability
again, then the new ledger's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
from redis.exceptions import RedisError

from atp import keys
from atp.model import LedgerUnavailable
from atp.redis_io import RedisIO
from atp.replica import Replica
from atp.tasks import cancel_and_wait
from changes import store
from changes.derive import RESET, Change, Deriver, JournalRow
from changes.limits import (
    CHANGES_RETENTION_S,
    CHANGES_TRIM_INTERVAL_S,
    SEQUENCER_CATALOG_REFRESH_S,
    SEQUENCER_LEADER_RETRY_S,
    SEQUENCER_LOCK,
    SEQUENCER_POLL_S,
    SEQUENCER_ROWS_PER_PARTITION,
)
from durability.group_commit import Durability
from durability.streams import PARTITIONS, current_epoch, id_tuple, last_ids

log = logging.getLogger(__name__)

StreamId = tuple[int, int]
Connect = Callable[[], Awaitable["asyncpg.Connection[asyncpg.Record]"]]


class ChangeSequencer:
    def __init__(
        self,
        redis: RedisIO,
        durability: Durability,
        connect: Connect,
        replica: Replica | None = None,
        rows_per_partition: int = SEQUENCER_ROWS_PER_PARTITION,
    ) -> None:
        self.redis = redis
        self.durability = durability
        self.replica = replica
        self._connect = connect
        self.rows_per_partition = rows_per_partition
        self.leading = False
        self.appended = 0  # changes this process appended (metrics, tests)
        self.rounds = 0
        self._thresholds = store.LowStockThresholds()
        self._deriver = Deriver({}, self._thresholds)
        self._cursors: dict[int, StreamId] = {}
        self._epoch = ""
        self._last_seq = 0
        self._catalog_read_at = 0.0
        self._trimmed_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._nudge = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-sequencer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    @property
    def default_threshold(self) -> int:
        return self._thresholds.default

    async def round_pending(self) -> bool:
        """Whether any stream goes past the feed's cursors (what the next round would take)."""
        tails = await self._tails()
        return any(t > self._cursors.get(p, (0, 0)) for p, t in tails.items())

    def nudge(self) -> None:
        """Re-read groups and thresholds now (one was changed through this process)."""
        self._catalog_read_at = 0.0
        self._nudge.set()

    async def _run(self) -> None:
        while True:
            try:
                conn = await self._connect()
            except (OSError, asyncpg.PostgresError):
                log.warning("change sequencer: no PostgreSQL connection", exc_info=True)
                await asyncio.sleep(SEQUENCER_LEADER_RETRY_S)
                continue
            try:
                if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *SEQUENCER_LOCK):
                    await self._lead(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("change sequencer lost PostgreSQL; retrying", exc_info=True)
            except Exception:  # a bug: logged, and the feed goes on from its cursors
                log.exception("change sequencer failed; starting over from its cursors")
            finally:
                self.leading = False
                with contextlib.suppress(Exception):
                    await conn.close()  # the lock goes with the session
            await asyncio.sleep(SEQUENCER_LEADER_RETRY_S)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        await self.take_over(conn)
        self.leading = True
        while True:
            try:
                busy = await self.round(conn)
            except (RedisError, LedgerUnavailable, ConnectionError):
                log.info("change sequencer waits for the ledger", exc_info=True)
                busy = False
                await asyncio.sleep(SEQUENCER_LEADER_RETRY_S)
            if not busy:
                self._nudge.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._nudge.wait(), SEQUENCER_POLL_S)

    async def take_over(self, conn: asyncpg.Connection) -> None:
        """Reads where the feed stands; a first start begins at the journal's end."""
        async with conn.transaction():
            self._epoch, self._last_seq = await store.feed_state(conn)
            self._cursors = await store.load_cursors(conn)
            if not self._cursors:
                self._cursors = await store.journal_heads(conn, PARTITIONS)
                await store.save_cursors(conn, self._cursors)
        await self._read_catalog(conn)

    async def _read_catalog(self, conn: asyncpg.Connection) -> None:
        await self._thresholds.load(conn)
        self._deriver.set_groups(await store.load_groups(conn))
        self._catalog_read_at = time.monotonic()

    async def _tails(self) -> dict[int, StreamId]:
        """How far each stream goes: the replica's applied entries when it is ready and
        follows every partition (no round trip), else the streams' last ids."""
        replica = self.replica
        if replica is not None and replica.ready and replica.whole:
            return dict(enumerate(replica.cursor_ids))
        return {p: id_tuple(s) for p, s in (await last_ids(self.redis)).items()}

    async def round(self, conn: asyncpg.Connection) -> bool:
        """One pass; True when it appended or left rows for the next pass."""
        self.rounds += 1
        now = time.monotonic()
        if now - self._catalog_read_at >= SEQUENCER_CATALOG_REFRESH_S:
            await self._read_catalog(conn)
        if now - self._trimmed_at >= CHANGES_TRIM_INTERVAL_S:
            self._trimmed_at = now
            await store.trim(conn, CHANGES_RETENTION_S)
        tails, epoch = await asyncio.gather(self._tails(), current_epoch(self.redis))
        if epoch is None:
            return False  # Redis lost the ledger: the rebuild comes first
        new_ledger = bool(self._epoch) and epoch != self._epoch
        if new_ledger:  # the old ledger's journaled events first, then the reset
            starts = await self._ledger_starts()
            tails = {p: _old_ledger_end(t, starts[p]) for p, t in tails.items()}
        upto = {p: t for p, t in tails.items() if t > self._cursors.get(p, (0, 0))}
        if not upto and not new_ledger:
            return False
        if upto:
            await self.durability.sync(sorted(upto))
        return await self._append(conn, upto, epoch, new_ledger)

    async def _ledger_starts(self) -> dict[int, StreamId | None]:
        """Each stream's first entry since the rebuild (None: none yet). A rebuild resumes
        every stream past the journal's newest id, so what is older belongs to the old one."""
        firsts = await asyncio.gather(
            *(
                self.redis.command("XRANGE", keys.stream(p), "-", "+", "COUNT", 1)
                for p in PARTITIONS
            )
        )
        return {
            p: id_tuple(str(first[0][0])) if first else None
            for p, first in zip(PARTITIONS, firsts, strict=True)
        }

    async def _append(
        self, conn: asyncpg.Connection, upto: dict[int, StreamId], epoch: str, new_ledger: bool
    ) -> bool:
        ranges = {p: (self._cursors.get(p, (0, 0)), t) for p, t in upto.items()}
        cursors = dict(self._cursors)
        more = False
        async with conn.transaction():
            found = await store.read_journal(conn, ranges, self.rows_per_partition)
            rows: list[tuple[StreamId, int, JournalRow]] = []
            for partition, got in found.items():
                if len(got) >= self.rows_per_partition:
                    more = True
                    cursors[partition] = got[-1].stream_id
                else:
                    cursors[partition] = upto[partition]
                rows += ((row.stream_id, partition, row) for row in got)
            rows.sort(key=lambda r: (r[0], r[1]))
            changes = await self._derive(conn, [row for _, _, row in rows])
            if new_ledger and not more:  # every event of the old ledger is in
                changes.append(_reset(epoch))
            elif new_ledger:
                epoch = self._epoch  # more of the old ledger first: the reset comes later
            last_seq = await store.append(conn, self._last_seq + 1, changes)
            await store.save_cursors(conn, {p: cursors[p] for p in upto})
            await store.save_feed_state(conn, epoch, last_seq)
        self._cursors, self._epoch, self._last_seq = cursors, epoch, last_seq
        self.appended += len(changes)
        return more or bool(changes)

    async def _derive(self, conn: asyncpg.Connection, rows: list[JournalRow]) -> list[Change]:
        out: list[Change] = []
        deriver = self._deriver
        while rows:
            grouped = deriver.groups_of
            for sku, first in deriver.view.missing(rows, grouped).items():
                deriver.view.put(sku, await store.atp_before(conn, sku, list(grouped), first))
            derived, taken = deriver.derive(rows, store.rfc3339_ms)
            out += derived
            rows = rows[taken:]
        return out


def _old_ledger_end(tail: StreamId, new_start: StreamId | None) -> StreamId:
    """How far a partition's old-ledger events go: up to just before the stream's first
    entry since the rebuild (all of it when there is none yet)."""
    if new_start is None:
        return tail
    ms, seq = new_start
    return min(tail, (ms, seq - 1) if seq else (ms - 1, 2**63 - 1))


def _reset(epoch: str) -> Change:
    data: dict[str, object] = {
        "reason": "ledger_rebuilt",
        "detail": "the ledger was rebuilt from the journal: read availability again",
        "epoch": epoch,
        "at": store.rfc3339_ms(int(time.time() * 1000)),
    }
    return Change(RESET, "", "", "", "", "", data, int(time.time() * 1000))
