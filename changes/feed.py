"""What one API process runs of the feed: a sequencer candidate (one process leads) and
the hub its SSE clients read from, and the stream one client gets (resume, reset,
backfill from PostgreSQL, then live changes, with heartbeats)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event

from atp.redis_io import RedisIO
from atp.replica import Replica
from changes import store
from changes.derive import RESET
from changes.filters import ChangeFilter
from changes.hub import ChangeHub, Subscriber
from changes.limits import SSE_BACKFILL_PAGE, SSE_CONNECTIONS_MAX, SSE_HEARTBEAT_S
from changes.sequencer import ChangeSequencer
from durability.group_commit import Durability

Connect = Callable[[], Awaitable["asyncpg.Connection[asyncpg.Record]"]]


class ChangeFeed:
    def __init__(
        self,
        pool: asyncpg.Pool,
        connect: Connect,
        redis: RedisIO,
        durability: Durability,
        replica: Replica | None,
        connections_max: int = SSE_CONNECTIONS_MAX,
        heartbeat_s: float = SSE_HEARTBEAT_S,
    ) -> None:
        self.pool = pool
        self.hub = ChangeHub(pool, connect)
        self.sequencer = ChangeSequencer(redis, durability, connect, replica)
        self.connections_max = connections_max
        self.heartbeat_s = heartbeat_s

    async def start(self) -> None:
        await self.hub.start()
        self.sequencer.start()

    async def stop(self) -> None:
        await self.sequencer.stop()
        await self.hub.stop()

    @property
    def full(self) -> bool:
        return len(self.hub.subscribers) >= self.connections_max

    def open(self, change_filter: ChangeFilter) -> Subscriber:
        """Registers a client before its backlog is read, so nothing falls in between."""
        return self.hub.subscribe(change_filter)

    async def stream(self, subscriber: Subscriber, after: int | None) -> AsyncIterator[bytes]:
        """The client's SSE bytes: from ``after`` (None: from now) in order, none twice."""
        try:
            last = subscriber.start
            if after is not None:
                async for chunk in self._backlog(subscriber, after):
                    yield chunk
                # The backlog ends at the hub's head when the client asked from before it;
                # a client ahead of this process's hub has seen up to its own id already.
                last = max(after, subscriber.start)
            async for chunk in self._live(subscriber, last):
                yield chunk
        finally:
            self.hub.unsubscribe(subscriber)

    async def bounded(
        self, body: AsyncIterator[bytes], subscriber: Subscriber, timeout_s: float
    ) -> AsyncIterator[bytes]:
        """``body`` until ``timeout_s`` has passed (a client that wants a bounded wait)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            while True:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return
                try:
                    chunk = await asyncio.wait_for(anext(body), left)
                except (TimeoutError, StopAsyncIteration):
                    return
                yield chunk
        finally:
            self.hub.unsubscribe(subscriber)
            # A client gone mid-read: the cancelled read may still be winding down (anyio
            # cancels again), and it closes the body itself.
            with contextlib.suppress(RuntimeError):
                await body.aclose()  # type: ignore[attr-defined]

    async def _backlog(self, subscriber: Subscriber, after: int) -> AsyncIterator[bytes]:
        upto = subscriber.start
        oldest, _ = await store.oldest_and_newest(self.pool)
        if oldest and after < oldest - 1:
            yield _reset("retention", upto, "the changes after that id are no longer kept")
            return
        rebuilt = await store.last_reset_after(self.pool, after) if after < upto else None
        if rebuilt is not None and rebuilt <= upto:
            after = rebuilt - 1  # the reset itself is sent, then what followed it
        while after < upto:
            page = self.hub.recent(after, upto)
            if page is None:
                page = await store.read_changes(self.pool, after, upto, SSE_BACKFILL_PAGE)
            if not page:
                return
            for change in page:
                if subscriber.filter.matches(change):
                    yield _event(change)
            after = page[-1].seq
            if after < upto:
                await asyncio.sleep(0)  # a long backlog yields the loop between pages

    async def _live(self, subscriber: Subscriber, last: int) -> AsyncIterator[bytes]:
        queue = subscriber.queue
        while True:
            if queue.empty():
                if subscriber.dropped:
                    return  # fell too far behind: it reconnects with Last-Event-ID
                subscriber.woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscriber.woken.wait(), self.heartbeat_s)
                if queue.empty():
                    if not subscriber.dropped:
                        yield KEEPALIVE_COMMENT
                    continue
            change = queue.get_nowait()
            if change.seq > last:
                last = change.seq
                yield _event(change)


def _event(change: store.StoredChange) -> bytes:
    return format_sse_event(data_str=change.data, event=change.type, id=str(change.seq))


def _reset(reason: str, resume_at: int, detail: str) -> bytes:
    data = f'{{"reason":"{reason}","detail":"{detail}: read availability again"}}'
    return format_sse_event(data_str=data, event=RESET, id=str(resume_at))
