"""Per-node operations: what a command without keys (SCAN, XREAD of every partition,
INFO) must do on each master of a Redis Cluster, and once on a single Redis.

A node is named ``host:port`` (redis-py's ``ClusterNode.name``); a single Redis is the one
node ``""``. Masters are listed sorted by name, so a cursor can name one by its index.
"""

from typing import Any

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.redis_cluster import ClusterRedis
from atp.redis_io import Arg, RedisIO

SINGLE_NODE = ""
SCAN_COUNT = 10_000  # keys one SCAN step looks at


async def primaries(redis: RedisIO) -> list[str]:
    """The masters' names, sorted; ``[""]`` for a single Redis."""
    if not isinstance(redis, ClusterRedis):
        return [SINGLE_NODE]
    await redis.command("PING")  # the slot map first (ClusterRedis initializes lazily)
    return sorted(node.name for node in redis.client.get_primaries())


async def node_command(redis: RedisIO, node: str, *args: Arg) -> Any:
    """``args`` run on the master ``node`` (on a single Redis, on it)."""
    if not isinstance(redis, ClusterRedis):
        return await redis.command(*args)
    target = redis.client.get_node(node_name=node)
    if target is None:
        raise LookupError(f"no master {node} in the cluster")
    return await redis.client.execute_command(*args, target_nodes=target)


async def partitions_by_node(redis: RedisIO) -> dict[str, list[int]]:
    """master name -> the partitions whose hash slot it serves, from the client's slot map
    (every partition on the one node of a single Redis)."""
    if not isinstance(redis, ClusterRedis):
        return {SINGLE_NODE: list(range(LEDGER_PARTITIONS))}
    await redis.command("PING")
    served: dict[str, list[int]] = {}
    for partition in range(LEDGER_PARTITIONS):
        node = redis.client.get_node_from_key(keys.stream(partition))
        assert node is not None, "a partition's slot is served by no master"
        served.setdefault(node.name, []).append(partition)
    return served


async def scan_node(
    redis: RedisIO, node: str, cursor: str, pattern: str, count: int = SCAN_COUNT
) -> tuple[str, list[str]]:
    """One SCAN step on one master: (next cursor, keys)."""
    args = ("SCAN", cursor, "MATCH", pattern, "COUNT", count)
    next_cursor, found = await node_command(redis, node, *args)
    if isinstance(next_cursor, dict):  # redis-py's cluster SCAN answers {node: cursor}
        next_cursor = next_cursor[node]
    return str(next_cursor), list(found)


async def scan_keys(redis: RedisIO, pattern: str, *, first_only: bool = False) -> list[str]:
    """Every key matching ``pattern`` on every master; ``first_only``: stop at the first
    step that found any."""
    found: list[str] = []
    for node in await primaries(redis):
        cursor = "0"
        while True:
            cursor, batch = await scan_node(redis, node, cursor, pattern)
            found += batch
            if first_only and found:
                return found
            if cursor == "0":
                break
    return found


async def on_every_node(redis: RedisIO, *args: Arg) -> list[Any]:
    """``args`` once on each master (a keyless admin command), replies in node order."""
    return [await node_command(redis, node, *args) for node in await primaries(redis)]
