"""One reader of the feed per API process, fanning changes out to its SSE clients.

It LISTENs for the sequencer's notification (falling back to polling), reads the new rows
once, keeps the newest in memory for clients that resume a little behind, and hands each
change only to the clients whose filter can match it (indexed by SKU, location or group),
each through a bounded queue: a client too slow to keep up is dropped and resumes with
Last-Event-ID from PostgreSQL, never slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import asyncpg

from atp.tasks import cancel_and_wait
from changes import store
from changes.filters import ChangeFilter
from changes.limits import (
    HUB_POLL_S,
    HUB_READ_MAX,
    HUB_RING_MAX,
    SEQUENCER_CATALOG_REFRESH_S,
    SSE_QUEUE_MAX,
)
from changes.store import StoredChange

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable["asyncpg.Connection[asyncpg.Record]"]]


class Subscriber:
    def __init__(self, change_filter: ChangeFilter, start: int, queue_max: int) -> None:
        self.filter = change_filter
        self.start = start  # live changes after this seq come through the queue
        self.queue: asyncio.Queue[StoredChange] = asyncio.Queue(queue_max)
        self.dropped = False
        self.woken = asyncio.Event()
        self.index_keys: list[tuple[str, str]] = []  # where the hub's index holds it


class ChangeHub:
    def __init__(
        self, pool: asyncpg.Pool, connect: Connect, queue_max: int = SSE_QUEUE_MAX
    ) -> None:
        self.pool = pool
        self._connect = connect
        self.queue_max = queue_max
        self.head = 0  # the newest seq read
        self.ring: deque[StoredChange] = deque(maxlen=HUB_RING_MAX)
        self.memberships: dict[str, frozenset[str]] = {}
        self.subscribers: set[Subscriber] = set()
        self._all: set[Subscriber] = set()
        self._index: dict[str, dict[str, set[Subscriber]]] = {"sku": {}, "location": {}}
        self._notified = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.head = (await store.oldest_and_newest(self.pool))[1]
        self.memberships = await store.load_groups(self.pool)
        self._tasks = [
            asyncio.create_task(self._run(), name="change-hub"),
            asyncio.create_task(self._listen(), name="change-hub-listen"),
            asyncio.create_task(self._refresh_groups(), name="change-hub-groups"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await cancel_and_wait(task)
        for subscriber in list(self.subscribers):
            self._drop(subscriber)

    def subscribe(self, change_filter: ChangeFilter) -> Subscriber:
        subscriber = Subscriber(change_filter, self.head, self.queue_max)
        self.subscribers.add(subscriber)
        keys = change_filter.index_keys()
        if keys is None:
            self._all.add(subscriber)
            return subscriber
        kind, values = keys
        where = "sku" if kind == "sku" else "location"
        subscriber.index_keys = [(where, value) for value in values]
        if kind == "group":  # a group's own changes are indexed by its name
            subscriber.index_keys += [
                ("location", "group:" + g) for g in change_filter.groups or ()
            ]
        for where, value in subscriber.index_keys:
            self._index[where].setdefault(value, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self._all.discard(subscriber)
        for where, value in subscriber.index_keys:
            found = self._index[where].get(value)
            if found is not None:
                found.discard(subscriber)
                if not found:
                    del self._index[where][value]
        subscriber.index_keys = []

    def recent(self, after: int, upto: int) -> list[StoredChange] | None:
        """Changes in (after, upto] from memory, or None when memory does not reach back."""
        ring = self.ring
        if not ring or ring[0].seq > after + 1:
            return None if after < upto else []
        return [c for c in ring if after < c.seq <= upto]

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.dropped = True
        subscriber.woken.set()
        self.unsubscribe(subscriber)

    def _candidates(self, change: StoredChange) -> set[Subscriber]:
        found = set(self._all)
        if change.sku:
            found.update(self._index["sku"].get(change.sku, ()))
        locations = self._index["location"]
        if change.location:
            found.update(locations.get(change.location, ()))
        if change.group:
            found.update(locations.get("group:" + change.group, ()))
        return found

    def dispatch(self, changes: list[StoredChange]) -> None:
        for change in changes:
            self.ring.append(change)
            targets = self.subscribers if change.type == "reset" else self._candidates(change)
            for subscriber in list(targets):
                if change.seq <= subscriber.start or not subscriber.filter.matches(change):
                    continue
                try:
                    subscriber.queue.put_nowait(change)
                except asyncio.QueueFull:
                    log.info("an SSE client fell %d changes behind: dropped", self.queue_max)
                    self._drop(subscriber)
                    continue
                subscriber.woken.set()
        if changes:
            self.head = changes[-1].seq

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._notified.wait(), HUB_POLL_S)
            self._notified.clear()
            try:
                while True:
                    found = await store.read_changes(self.pool, self.head, None, HUB_READ_MAX)
                    self.dispatch(found)
                    if len(found) < HUB_READ_MAX:
                        break
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("change hub: reading the feed failed; retrying", exc_info=True)

    async def _listen(self) -> None:
        """Wakes the reader on the sequencer's NOTIFY; polling covers a lost connection."""
        while True:
            try:
                conn = await self._connect()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(1.0)
                continue
            try:
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _, ended=lost: ended.set())
                await conn.add_listener(store.NOTIFY_CHANNEL, self._on_notify)
                self._notified.set()  # what was appended while it was not listening
                await lost.wait()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.info("change hub: LISTEN connection lost", exc_info=True)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    def _on_notify(self, *_: object) -> None:
        self._notified.set()

    async def _refresh_groups(self) -> None:
        while True:
            await asyncio.sleep(SEQUENCER_CATALOG_REFRESH_S)
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self.memberships = await store.load_groups(self.pool)
