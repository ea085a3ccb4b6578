"""Transports between the engine and Redis, behind one small interface.

``PipelinedRedis`` (a single Redis) writes every command issued during one event-loop turn
as one socket write and parses replies with hiredis: redis-py's asyncio client costs
~35 us of Python per call, which caps one process near 25k calls/s, while Redis itself
answers a script in ~5 us. ``ClusterRedis`` sends script calls (the hot path) through one
``PipelinedRedis`` per master, by hash slot (atp/redis_cluster_pipe.py), and everything
else through redis-py's RedisCluster (atp/redis_cluster.py). The engine code above them is
the same.
"""

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from typing import Any, Protocol, cast
from urllib.parse import urlparse

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from atp import actor
from atp.limits import PIPELINE_INFLIGHT_MAX
from atp.scripts import Script

Arg = str | int
ScriptCall = tuple[Script, Sequence[str], Sequence[Arg]]


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # the one default, where ATP_REDIS_URL is unset
# Keyless commands (SCAN, SCRIPT LOAD) on every master: atp/redis_nodes.py.


def hash_reply(reply: Sequence[Any] | dict[Any, Any]) -> dict[Any, Any]:
    """A hash reply (HGETALL, XINFO) as a dict, from either transport's shape:
    PipelinedRedis gives a flat list, the cluster client a dict. The one place that evens
    them out."""
    if isinstance(reply, dict):
        return reply
    pairs = iter(reply)  # zip of one iterator with itself pairs it up: faster than slices
    return dict(zip(pairs, pairs))  # noqa: B905 (Redis replies come in whole pairs)


def script_args(script: Script, args: Sequence[Arg]) -> Sequence[Arg]:
    """A script's ARGV as sent: a script that appends events (``Script.actor``) gets the
    current actor's ``by`` and ``ref`` last (atp/actor.py), whoever called it."""
    return (*args, *actor.current()) if script.actor else args


class RedisIO(Protocol):
    # True when one script call may touch keys of different hash slots (a single Redis).
    cross_slot_scripts: bool

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any: ...

    async def run_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Several scripts at once (one write on a single Redis); replies in order."""
        ...

    async def command(self, *args: Arg) -> Any: ...

    async def close(self) -> None: ...


class _ReplyProtocol(asyncio.Protocol):
    def __init__(
        self, on_lost: "collections.abc.Callable[[_ReplyProtocol, Exception | None], None]"
    ) -> None:
        self.reader = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.room = asyncio.Event()  # set while fewer than PIPELINE_INFLIGHT_MAX are waiting
        self.room.set()
        # Commands queued on this connection during this loop turn, written in one go. Per
        # connection: a command queued on one must never leave on another, or its reply
        # would answer someone else's future and its own would never come.
        self.outbox: list[bytes] = []
        self.flush_scheduled = False
        self._on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have write/close.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        if not self.room.is_set() and len(self.waiting) < PIPELINE_INFLIGHT_MAX:
            self.room.set()
        while (reply := self.reader.gets()) is not False:
            future = self.waiting.popleft()
            if future.done():  # its caller was cancelled; the reply still had to be read
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(_typed_error(reply))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(self, exc)


def _typed_error(error: ResponseError) -> ResponseError:
    text = str(error)
    return NoScriptError(text) if text.startswith("NOSCRIPT") else error


class PipelinedRedis:
    """One connection; commands of one loop turn go out in one write, replies in order."""

    cross_slot_scripts = True

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, db: int = 0) -> None:
        self.host, self.port, self.db = host, port, db
        self._protocol: _ReplyProtocol | None = None
        # The connect in progress, owned here (not by a caller that may be cancelled), so
        # close() can end a socket that connected after its caller gave up.
        self._connecting: asyncio.Task[_ReplyProtocol] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_url(cls, url: str) -> "PipelinedRedis":
        parsed = urlparse(url)
        db = int(parsed.path.lstrip("/") or 0)
        return cls(parsed.hostname or "127.0.0.1", parsed.port or 6379, db)

    async def _connection(self) -> _ReplyProtocol:
        if self._protocol is not None:
            return self._protocol
        if self._connecting is None or self._connecting.done():
            self._loop = asyncio.get_running_loop()
            self._connecting = self._loop.create_task(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _ReplyProtocol:
        assert self._loop is not None
        transport, protocol = await self._loop.create_connection(
            lambda: _ReplyProtocol(self._lost), self.host, self.port
        )
        try:
            if self.db:
                await self._queue(protocol, ("SELECT", self.db))
        except BaseException:
            transport.close()
            raise
        self._protocol = protocol
        return protocol

    def _lost(self, protocol: _ReplyProtocol, exc: Exception | None) -> None:
        """Fails every command waiting on ``protocol``, the current connection or not: a
        caller that awaited a connect may queue on it after it was lost and replaced."""
        if self._protocol is protocol:
            self._protocol = None
        protocol.room.set()  # whoever waits for room then finds the connection gone
        error = RedisConnectionError(f"connection to Redis lost: {exc}")
        while protocol.waiting:
            future = protocol.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def _queue(self, protocol: _ReplyProtocol, args: Sequence[Arg]) -> "asyncio.Future[Any]":
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[Any] = loop.create_future()
        protocol.outbox.append(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]
        protocol.waiting.append(future)
        if not protocol.flush_scheduled:
            protocol.flush_scheduled = True
            loop.call_soon(self._flush, protocol)
        return future

    async def _ready(self) -> _ReplyProtocol:
        protocol = self._protocol or await self._connection()
        if len(protocol.waiting) >= PIPELINE_INFLIGHT_MAX:
            protocol.room.clear()
            await protocol.room.wait()
        return protocol

    def _flush(self, protocol: _ReplyProtocol) -> None:
        protocol.flush_scheduled = False
        outbox, protocol.outbox = protocol.outbox, []
        if protocol.transport is None or protocol.transport.is_closing():
            self._lost(protocol, None)  # it went while these were queued: none was sent
            return
        protocol.transport.write(b"".join(outbox))

    async def command(self, *args: Arg) -> Any:
        return await self._queue(await self._ready(), args)

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        args = script_args(script, args)
        try:
            return await self.command("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted or flushed its script cache
            return await self.command("EVAL", script.source, len(keys), *keys, *args)

    async def run_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        protocol = await self._ready()
        calls = [(s, k, script_args(s, a)) for s, k, a in calls]
        # Futures, not tasks: queued in this turn, they leave in the same write.
        futures = [self._queue(protocol, ("EVALSHA", s.sha, len(k), *k, *a)) for s, k, a in calls]
        replies = []
        for future, (script, keys, args) in zip(futures, calls, strict=True):
            try:
                replies.append(await future)
            except NoScriptError:
                replies.append(await self.command("EVAL", script.source, len(keys), *keys, *args))
        return replies

    async def close(self) -> None:
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
