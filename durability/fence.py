"""The per-partition fence: every partition keeps its own copy of the ledger epoch.

On a single Redis the ledger is lost all at once, and the epoch key (``atp:{meta}:epoch``)
goes with it. On a Redis Cluster each master holds some partitions: one restarted empty
loses its partitions while the master of ``{meta}`` keeps the epoch. So each partition
carries a copy of the epoch in its own hash tag (``atp:{pNN}:epoch``), written wherever the
epoch is set (a rebuild, adopting a ledger) and checked wherever the ledger's loss is
looked for: the ledger is whole only while the epoch and every copy agree
(durability/streams.py ``current_epoch``). The copies are kept on a single Redis too: one
code path, tested by every durability suite, for the price of one MGET instead of a GET.
"""

import asyncio

from atp import keys
from atp.redis_io import RedisIO
from atp.scripts import load_script
from durability.store import Entry
from durability.streams import EPOCH_KEY, PARTITION_EPOCH_KEYS, entries_of, epoch_copies

_READ_FENCED = load_script("durability.lua", "journal_read_fenced")


async def set_epoch(redis: RedisIO, epoch: str) -> None:
    """Every partition's copy first, then the epoch itself: whoever sees the epoch and its
    copies agree sees a ledger that was complete when they were written."""
    await asyncio.gather(*(redis.command("SET", key, epoch) for key in PARTITION_EPOCH_KEYS))
    await redis.command("SET", EPOCH_KEY, epoch)


async def read_fenced(
    redis: RedisIO, partition: int, after: str, count: int
) -> tuple[str | None, str, list[Entry]]:
    """(the partition's epoch copy, where the read began, up to ``count`` entries) in one
    atomic step: journal_cursor.read_after, refused (no entries) by a partition whose copy
    is gone."""
    keys_ = [
        keys.stream(partition),
        keys.journal_cursor(partition),
        PARTITION_EPOCH_KEYS[partition],
    ]
    epoch, start, raw = await redis.run(_READ_FENCED, keys_, [after, count])
    return (None if epoch is None else str(epoch)), str(start), entries_of(partition, raw)[0]


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
