"""The pipelined Redis client when its connection goes at the worst moment: right after
connecting, with callers already waiting on that connect. Every one of them must get an
error to retry on (never hang: the durability flusher's recovery waited on such a
command for good), and commands sent after must get their own replies, not another
caller's (the write buffer was once shared between connections)."""

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from atp.redis_io import PipelinedRedis, _ReplyProtocol
from support.env import REDIS_URL
from support.machine import ensure_redis

pytestmark = pytest.mark.servers

CALLERS = 5
ROUNDS = 20  # every other one loses its connection under the queued commands
HANG_BOUND_S = 10.0  # a liveness bound, not a timing: a hung command never returns at all


class ClosingAtOnce(PipelinedRedis):
    """A connection that the server (or a restart) closes as soon as it is made."""

    closing = True

    async def _connect(self) -> _ReplyProtocol:
        protocol = await super()._connect()
        if self.closing and protocol.transport is not None:
            protocol.transport.close()
        return protocol


async def test_callers_waiting_on_a_connection_that_closes_get_an_error_not_a_hang() -> None:
    ensure_redis(REDIS_URL)
    client = ClosingAtOnce.from_url(REDIS_URL)
    try:
        found = await asyncio.wait_for(
            asyncio.gather(*(client.command("PING") for _ in range(CALLERS)),
                           return_exceptions=True),
            HANG_BOUND_S,
        )  # fmt: skip
        assert all(isinstance(r, RedisConnectionError) for r in found), found
        client.closing = False  # the server is back: the next connection stays
        echoed = await asyncio.wait_for(
            asyncio.gather(*(client.command("ECHO", f"caller-{i}") for i in range(CALLERS))),
            HANG_BOUND_S,
        )
        assert echoed == [f"caller-{i}" for i in range(CALLERS)]
    finally:
        await client.close()


async def test_replies_never_cross_callers_across_reconnects() -> None:
    ensure_redis(REDIS_URL)
    client = PipelinedRedis.from_url(REDIS_URL)
    try:
        for r in range(ROUNDS):
            calls = [client.command("ECHO", f"{r}-{i}") for i in range(CALLERS)]
            if r % 2 and client._protocol is not None and client._protocol.transport:
                client._protocol.transport.close()  # lost under the queued commands
            found = await asyncio.wait_for(
                asyncio.gather(*calls, return_exceptions=True), HANG_BOUND_S
            )
            for i, reply in enumerate(found):
                assert isinstance(reply, RedisConnectionError) or reply == f"{r}-{i}", found
    finally:
        await client.close()
