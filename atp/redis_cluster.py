"""A Redis Cluster behind the engine's transport interface (atp/redis_io.py ``RedisIO``)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlparse

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from atp.limits import CLUSTER_INFLIGHT_MAX, CLUSTER_NODE_CONNECTIONS_MAX
from atp.redis_cluster_pipe import SlotPipes
from atp.redis_io import Arg, ScriptCall, script_args
from atp.scripts import Script


def _seed(node: str, url: str) -> ClusterNode:
    host, _, port = node.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{url!r}: each cluster node is host:port, not {node!r}")
    return ClusterNode(host, int(port))


class ClusterRedis:
    """A Redis Cluster: script calls (the hot path) go pipelined to each master by hash
    slot (atp/redis_cluster_pipe.py: redis-py's cluster client does not pipeline and costs
    ~5x the Python a call); every other command goes through redis-py, whose slot map both use.

    Never resends after a connection error: redis-py's default closes every connection after
    a few MOVED replies and resends what was in flight, which applied scripts twice
    (tests/system/test_cluster.py). Our writes answer retries themselves (ids, op receipts);
    a lost reply surfaces to the caller instead.
    """

    cross_slot_scripts = False

    def __init__(self, client: RedisCluster) -> None:
        self.client = client
        self._initialized = False
        # redis-py raises instead of waiting when a node's pool is exhausted.
        self._room = asyncio.Semaphore(CLUSTER_INFLIGHT_MAX)
        self.pipes = SlotPipes(client, self._through_client)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "ClusterRedis":
        """``redis+cluster://host:port[,host:port...]``: every node listed is a seed, so a
        process starts while any one of them answers (redis-py asks them in turn)."""
        parsed = urlparse(url)
        seeds = [_seed(node, url) for node in parsed.netloc.rpartition("@")[2].split(",")]
        client = RedisCluster(
            startup_nodes=seeds,
            username=parsed.username,
            password=parsed.password,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
            reinitialize_steps=0,  # patch the moved slot; never drop live connections
            max_connections=CLUSTER_NODE_CONNECTIONS_MAX,
            **options,
        )
        return cls(client)

    async def _ready(self) -> RedisCluster:
        if not self._initialized:
            await self.client.initialize()  # the slot map first: no burst of MOVED replies
            self._initialized = True
        return self.client

    async def command(self, *args: Arg) -> Any:
        client = await self._ready()
        async with self._room, lost_under_it():
            return await client.execute_command(*args)

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        return (await self.run_many([(script, keys, args)]))[0]

    async def run_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        await self._ready()
        return await self.pipes.run_many([(s, k, script_args(s, a)) for s, k, a in calls])

    async def _through_client(self, call: ScriptCall) -> Any:
        script, keys, args = call
        client = await self._ready()
        async with self._room, lost_under_it():
            try:
                return await client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                return await client.eval(script.source, len(keys), *keys, *args)

    async def close(self) -> None:
        try:
            await self.pipes.close()
        finally:
            await self.client.aclose()


@contextlib.asynccontextmanager
async def lost_under_it() -> AsyncIterator[None]:
    """redis-py 8.1 can meet a connection a failover closed under it as ``AttributeError:
    'NoneType' object has no attribute 'writelines'`` (its writer already gone): that is a
    lost connection (retry with the same ids, a 503), not a bug of ours (a 500)."""
    try:
        yield
    except AttributeError as exc:
        if "'NoneType'" not in str(exc):
            raise
        raise RedisConnectionError(f"connection to Redis lost under a command: {exc}") from exc
