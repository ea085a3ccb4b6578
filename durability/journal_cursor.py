"""The shared journal cursor: per partition, the stream id up to which some process has
put every entry in PostgreSQL.

Every API worker runs a group commit, and each one's flush reads its partitions from its
own cursor; without this, each worker journaled every event of every worker (N times the
PostgreSQL writes, rejected as duplicates). A flush reads from the later of its cursor and
the shared one, and moves the shared one forward after its transaction committed, so an
entry at or before it is durable whoever wrote it. A process's own cursors start at the
stream's beginning, not its end, so its first flush cannot share a point past another
process's write that is still waiting for its flush. The key lives in the partition's slot
and goes with the ledger (a rebuild or a lost Redis starts it over).
"""

from atp import keys
from atp.redis_io import RedisIO
from atp.scripts import load_script
from durability.store import Entry
from durability.streams import entries_of

_READ = load_script("durability.lua", "journal_read")
_ADVANCE = load_script("durability.lua", "journal_advance")


async def read_after(
    redis: RedisIO, partition: int, after: str, count: int
) -> tuple[str | None, str, list[Entry]]:
    """(the partition's copy of the epoch, where the read began, up to ``count`` entries)
    in one atomic step: the read begins after ``after`` or the shared cursor if later, and
    a partition whose copy is gone (durability/fence.py) answers None and no entries."""
    keys_ = [
        keys.stream(partition),
        keys.journal_cursor(partition),
        keys.partition_epoch(partition),
    ]
    epoch, start, raw = await redis.run(_READ, keys_, [after, count])
    return (None if epoch is None else str(epoch)), str(start), entries_of(partition, raw)[0]


async def advance(redis: RedisIO, partition: int, journaled: str) -> None:
    await redis.run(_ADVANCE, [keys.journal_cursor(partition)], [journaled])
