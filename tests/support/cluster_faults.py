"""Faults of one master of a private cluster (support/servers.py ``PrivateCluster``), and a
hold on the rebuild so a test can look at the fenced ledger before it is rebuilt.

A master restarted with ``PrivateRedis.restart`` comes back empty (the private servers keep
nothing on disk) but keeps its cluster config file: the same node id and slots, so the
cluster is whole again with that master's partitions gone, as after a crash of a master
without persistence.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from durability.limits import LOCK_REBUILD
from support.servers import PrivateCluster, PrivateRedis


def master_without_meta(cluster: PrivateCluster) -> PrivateRedis:
    """A master that does not hold ``{meta}`` (the ledger epoch): losing it leaves the
    epoch intact, which only the partitions' copies reveal."""
    meta_port = cluster.master_of_key(keys.EPOCH)
    return next(node for node in cluster.nodes if node.require_port() != meta_port)


def partitions_on(cluster: PrivateCluster, node: PrivateRedis) -> list[int]:
    owners = {p: cluster.master_of_key(keys.stream(p)) for p in range(LEDGER_PARTITIONS)}
    return [p for p, port in owners.items() if port == node.require_port()]


def sku_in(partitions: list[int], prefix: str = "F") -> str:
    """The first ``<prefix><n>`` SKU that hashes into one of ``partitions``."""
    for number in range(10_000):
        sku = f"{prefix}{number}"
        if keys.partition_of_sku(sku) in partitions:
            return sku
    raise AssertionError(f"no SKU found in partitions {partitions}")


async def restart_empty(cluster: PrivateCluster, node: PrivateRedis) -> None:
    """SIGKILL the master and start it again on its port, empty, with its slots."""
    await asyncio.to_thread(node.restart)
    await asyncio.to_thread(cluster.wait_ready)


async def start_again(cluster: PrivateCluster, node: PrivateRedis) -> None:
    """Start a killed master again (empty), on its port, with its slots."""
    await asyncio.to_thread(node.start, node.require_port())
    await asyncio.to_thread(cluster.wait_ready)


@contextlib.asynccontextmanager
async def rebuild_held(dsn: str) -> AsyncIterator[None]:
    """The rebuild's advisory lock, held on a session of the test's own: a process that
    found the ledger lost waits (and refuses writes) until the block ends."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_REBUILD)
        yield
    finally:
        await conn.close()  # the lock goes with the session
