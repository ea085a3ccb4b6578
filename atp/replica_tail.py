"""Following a Redis Cluster's streams for the replica (atp/replica.py): one reader per
partition.

A cluster refuses one XREAD over keys of different slots, so each partition's stream is
followed by a blocking XREAD of its own, on a connection of its own to the master that
serves the partition (a PipelinedRedis: hiredis parsing, no slot routing on the hot
path). Each reader hands its replies to the replica, which applies them and moves that
partition's cursor (``as_of`` per partition). A slot that moved (MOVED) or a master that
went away ends every reader; the replica then loads again from the new slot map.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from atp import keys, redis_nodes
from atp.limits import (
    REPLICA_BLOCK_MS,
    REPLICA_COALESCE_BELOW,
    REPLICA_COALESCE_MS,
    REPLICA_TAIL_COUNT,
)
from atp.redis_io import PipelinedRedis, RedisIO

# (partition, XREAD reply or None) -> entries applied
OnReply = Callable[[int, Any], Awaitable[int]]


class PartitionReaders:
    def __init__(
        self,
        redis: RedisIO,
        partitions: Sequence[int],
        cursor_of: Callable[[int], str],
        on_reply: OnReply,
    ) -> None:
        self._redis = redis
        self._partitions = partitions
        self._cursor_of = cursor_of
        self._on_reply = on_reply
        self._connections: dict[int, PipelinedRedis] = {}

    async def open(self) -> None:
        """A connection per partition to the master serving it, by the current slot map."""
        for node, partitions in (await redis_nodes.partitions_by_node(self._redis)).items():
            host, _, port = node.rpartition(":")
            for partition in partitions:
                if partition in self._partitions:
                    self._connections[partition] = PipelinedRedis(host, int(port))

    async def run(self) -> None:
        """Every partition given followed until one reader fails (then all stop, and it
        raises)."""
        async with asyncio.TaskGroup() as group:
            for partition in self._partitions:
                group.create_task(self._follow(partition), name=f"replica-p{partition:02d}")

    async def _follow(self, partition: int) -> None:
        connection, stream = self._connections[partition], keys.stream(partition)
        while True:
            reply = await connection.command(
                "XREAD",
                "COUNT",
                REPLICA_TAIL_COUNT,
                "BLOCK",
                REPLICA_BLOCK_MS,
                "STREAMS",
                stream,
                self._cursor_of(partition),
            )
            if 0 < await self._on_reply(partition, reply) < REPLICA_COALESCE_BELOW:
                # A trickle: let a few more gather rather than pay a round trip for each.
                await asyncio.sleep(REPLICA_COALESCE_MS / 1000)

    async def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            await connection.close()
