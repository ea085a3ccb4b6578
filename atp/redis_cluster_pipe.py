"""Script calls on a Redis Cluster, pipelined: one ``PipelinedRedis`` per master.

redis-py's asyncio cluster client sends one command per connection checkout (~35 us of
Python a call, no pipelining), so one process held 621 reservations/s on 3 masters against
2,854 on one Redis. ``SlotPipes`` sends each script call to the pipelined connection of
the master that serves its first key's hash slot (a script's keys share one hash tag),
looked up in the redis-py client's own slot map, which both paths then keep fresh.

Redirects: a MOVED means the script did not run; the slot map is asked anew (once for
every caller that met it) and the call sent once more to the new owner. ASK and TRYAGAIN
(a slot migrating), a second MOVED, a call without keys or a slot the map lacks go
through redis-py's client, which follows redirects its own way. A lost connection or a
stalled one fails its callers (ConnectionError, TimeoutError) and is never resent: the
script may have run, and callers retry with their own ids. The next call asks for the
slot map first, so it finds a replica promoted in a dead master's place; connections to
nodes no longer masters are closed.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis._parsers.base import BaseParser
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from atp.limits import CLUSTER_REPLY_TIMEOUT_S
from atp.redis_io import Arg, PipelinedRedis, ScriptCall, _ReplyProtocol

# A call redis-py's cluster client sends instead (its script args already complete).
Fallback = Callable[[ScriptCall], Awaitable[Any]]
_REDIRECTS = (MovedError, AskError, TryAgainError)


def redis_py_error(error: ResponseError) -> ResponseError:
    """An error reply as redis-py's parser types and words it (MovedError, BusyLoadingError,
    ``ERR`` dropped from the text...), so callers see what the cluster client raised."""
    typed: ResponseError = BaseParser.parse_error(str(error))  # type: ignore[no-untyped-call]
    return typed


class MasterPipe(PipelinedRedis):
    """A ``PipelinedRedis`` to one master, with redis-py's bounds: a connect that fails or
    takes ``CLUSTER_REPLY_TIMEOUT_S`` raises ConnectionError; a connection whose oldest
    command has had no reply for that long fails its callers with TimeoutError and closes.
    Once ``retire``d (its node no longer a master) it connects no more."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.retired = False
        self._watch: asyncio.TimerHandle | None = None

    async def _connect(self) -> _ReplyProtocol:
        if self.retired:
            raise RedisConnectionError(f"{self.host}:{self.port} is no longer a master")
        try:
            async with asyncio.timeout(CLUSTER_REPLY_TIMEOUT_S):
                protocol = await super()._connect()
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        except asyncio.CancelledError:
            # Only close() cancels this task (callers await it shielded): they get an error.
            raise RedisConnectionError(f"{self.host}:{self.port} closed while connecting") from None
        self._watch_stalls(protocol, None)
        return protocol

    def _watch_stalls(self, protocol: _ReplyProtocol, head: "asyncio.Future[Any] | None") -> None:
        """Every CLUSTER_REPLY_TIMEOUT_S: the same oldest command as last time is stalled.
        One timer a connection, whatever the traffic."""
        if self._protocol is not protocol or protocol.transport is None:
            return  # lost or replaced: its callers were failed by _lost
        oldest = protocol.waiting[0] if protocol.waiting else None
        if oldest is not None and oldest is head:
            error = RedisTimeoutError(
                f"no reply from {self.host}:{self.port} in {CLUSTER_REPLY_TIMEOUT_S:g} s"
            )
            for future in protocol.waiting:
                if not future.done():
                    future.set_exception(error)
            protocol.transport.abort()  # connection_lost -> _lost clears the rest
            return
        assert self._loop is not None
        self._watch = self._loop.call_later(
            CLUSTER_REPLY_TIMEOUT_S, self._watch_stalls, protocol, oldest
        )

    async def connection(self) -> _ReplyProtocol:
        """The connection to queue on, once it has room (PIPELINE_INFLIGHT_MAX)."""
        return await self._ready()

    def queue(self, protocol: _ReplyProtocol, args: Sequence[Arg]) -> "asyncio.Future[Any]":
        """Queued on ``protocol``; everything queued in this loop turn leaves in one write."""
        return self._queue(protocol, args)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await super().close()


class SlotPipes:
    """The masters' pipelined connections, by the slot map of ``client``; ``fallback``
    sends a call through redis-py (for what this does not handle itself)."""

    def __init__(self, client: RedisCluster, fallback: Fallback) -> None:
        self.client = client
        self.fallback = fallback
        self.pipes: dict[str, MasterPipe] = {}  # node name -> its connection
        self._stale = False  # a connection was lost: ask for the slot map before routing
        self._generation = 0  # slot map refreshes done here
        self._refreshing = asyncio.Lock()

    def _pipe_for(self, key: str) -> MasterPipe | None:
        try:
            node = self.client.nodes_manager.get_node_from_slot(key_slot(key.encode()))
        except RedisClusterException:  # the slot is not covered (yet): redis-py decides
            return None
        pipe = self.pipes.get(node.name)
        if pipe is None:
            pipe = self.pipes[node.name] = MasterPipe(node.host, int(node.port))
        return pipe

    async def refresh(self, seen: int) -> None:
        """The slot map asked anew, unless another caller did since ``seen``; connections
        to nodes no longer masters closed."""
        async with self._refreshing:
            if self._generation != seen:
                return
            try:
                await self.client.nodes_manager.initialize()
            except RedisClusterException as exc:  # no node answered: the cluster is away
                raise RedisConnectionError(f"cluster slot map unavailable: {exc}") from exc
            self._generation += 1
            self._stale = False
            masters = {node.name for node in self.client.get_primaries()}
            gone = [name for name in self.pipes if name not in masters]
            for name in gone:
                pipe = self.pipes.pop(name)
                pipe.retired = True
                await pipe.close()

    async def run_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Replies in order; every call has ended before the first error is raised."""
        if self._stale:
            await self.refresh(self._generation)
        seen = self._generation
        pipes = [self._pipe_for(keys[0]) if keys else None for _, keys, _ in calls]
        protocols: dict[MasterPipe, _ReplyProtocol] = {}
        for pipe in pipes:
            if pipe is not None and pipe not in protocols:
                protocols[pipe] = await self._ready(pipe)
        # Queued in this turn: each master gets its calls in one write.
        sent = [
            None
            if pipe is None
            else pipe.queue(protocols[pipe], ("EVALSHA", s.sha, len(k), *k, *a))
            for pipe, (s, k, a) in zip(pipes, calls, strict=True)
        ]
        replies: list[Any] = []
        first_error: Exception | None = None
        for reply, call in zip(sent, calls, strict=True):
            try:
                if reply is None:  # no keys, or a slot the map lacks: redis-py decides
                    replies.append(await self.fallback(call))
                else:
                    replies.append(await self._settled(reply, call, seen))
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return replies

    async def _ready(self, pipe: MasterPipe) -> _ReplyProtocol:
        try:
            return await pipe.connection()
        except RedisConnectionError:
            self._stale = True
            raise

    async def _settled(self, reply: Awaitable[Any], call: ScriptCall, seen: int) -> Any:
        """The call's reply; after a MOVED (once) or a NOSCRIPT (once) it is sent again:
        neither ran the script."""
        script, keys, args = call
        moved = source = False
        while True:
            try:
                return await reply
            except (RedisConnectionError, RedisTimeoutError):
                self._stale = True
                raise
            except ResponseError as raw:
                error = raw if isinstance(raw, NoScriptError) else redis_py_error(raw)
                if isinstance(error, NoScriptError) and not source:
                    source = True  # the master restarted, or a replica took over
                elif isinstance(error, MovedError) and not moved:
                    moved = True
                    await self.refresh(seen)
                    seen = self._generation
                elif isinstance(error, _REDIRECTS):
                    return await self.fallback(call)
                else:
                    if isinstance(error, ClusterDownError):
                        self._stale = True
                    raise error from None
            pipe = self._pipe_for(keys[0])
            if pipe is None:
                return await self.fallback(call)
            head = ("EVAL", script.source) if source else ("EVALSHA", script.sha)
            reply = pipe.command(*head, len(keys), *keys, *args)

    async def close(self) -> None:
        pipes, self.pipes = list(self.pipes.values()), {}
        for pipe in pipes:
            await pipe.close()
