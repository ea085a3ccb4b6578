"""The per-partition fence: every partition keeps its own copy of the ledger epoch.

On a single Redis the ledger is lost all at once, and the epoch key (``atp:{meta}:epoch``)
goes with it. On a Redis Cluster each master holds some partitions: one restarted empty
loses its partitions while the master of ``{meta}`` keeps the epoch. So each partition
carries a copy of the epoch in its own hash tag (``atp:{pNN}:epoch``), written wherever the
epoch is set (a rebuild, adopting a ledger) and checked wherever the ledger's loss is
looked for: the ledger is whole only while the epoch and every copy agree
(durability/streams.py ``current_epoch``), and each journal read carries its partition's
copy (durability/journal_cursor.py ``read_after``). The copies are kept on a single Redis too: one
code path, tested by every durability suite, for the price of one MGET instead of a GET.
"""

import asyncio

from atp.redis_io import RedisIO
from durability.streams import EPOCH_KEY, PARTITION_EPOCH_KEYS, epoch_copies


async def set_epoch(redis: RedisIO, epoch: str) -> None:
    """Every partition's copy first, then the epoch itself: whoever sees the epoch and its
    copies agree sees a ledger that was complete when they were written."""
    await asyncio.gather(*(redis.command("SET", key, epoch) for key in PARTITION_EPOCH_KEYS))
    await redis.command("SET", EPOCH_KEY, epoch)


async def fence_state(redis: RedisIO) -> tuple[str, str | None]:
    """(state, epoch): 'whole' (the epoch and every copy agree), 'missing' (no epoch: the
    ledger is gone or was never built), 'partial' (some copy is gone or differs: a master
    lost its partitions), 'unfenced' (an epoch and no copy at all: a ledger set up before
    the copies existed)."""
    epoch, copies = await epoch_copies(redis)
    if epoch is None:
        return "missing", None
    if all(copy == epoch for copy in copies):
        return "whole", epoch
    if all(copy is None for copy in copies):
        return "unfenced", epoch
    return "partial", epoch
