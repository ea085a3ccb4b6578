"""What the replica reads to load (atp/replica.py): each stream's position, then every
position and its incoming supply, page by page, on a single Redis or every master of a
cluster."""

import collections
import collections.abc

from atp import keys, redis_nodes
from atp.limits import LEDGER_PARTITIONS, REPLICA_READ_BATCH_MAX
from atp.model import Supply
from atp.packed import PackedPositions
from atp.redis_io import RedisIO, hash_reply
from atp.rules import day_from_number
from atp.scripts import load_script

_READ = load_script("atp.lua", "read_positions")

StreamInfo = tuple[str, int, int]  # last id, entries ever added, length


async def stream_info(redis: RedisIO) -> list[StreamInfo]:
    """(last id, entries ever added, length) per partition; zeros for a missing stream."""
    info = []
    for partition in range(LEDGER_PARTITIONS):
        try:
            raw = await redis.command("XINFO", "STREAM", keys.stream(partition))
        except Exception as error:  # no such key: the stream has no entry yet
            if "no such key" not in str(error):
                raise
            info.append(("0-0", 0, 0))
            continue
        fields = hash_reply(raw)
        info.append(
            (str(fields["last-generated-id"]), int(fields["entries-added"]), int(fields["length"]))
        )
    return info


async def position_pages(redis: RedisIO) -> collections.abc.AsyncIterator[list[str]]:
    """Every position key, SCANned page by page (every master in turn on a cluster): a
    million keys are never held at once."""
    for node in await redis_nodes.primaries(redis):
        cursor = "0"
        while True:
            cursor, batch = await redis_nodes.scan_node(
                redis, node, cursor, keys.POSITIONS_PATTERN, REPLICA_READ_BATCH_MAX
            )
            if batch:
                yield batch
            if cursor == "0":
                break


async def load_batch(
    redis: RedisIO, positions: PackedPositions, pairs: list[tuple[str, str]]
) -> None:
    """Reads these (sku, location) positions and their supplies into ``positions``: one
    script call on a single Redis, one per partition on a cluster."""
    key_list = [keys.position(s, loc) for s, loc in pairs] + [
        keys.incoming(s, loc) for s, loc in pairs
    ]
    if redis.cross_slot_scripts:
        groups = [list(range(len(pairs)))]
    else:
        by_partition: dict[int, list[int]] = collections.defaultdict(list)
        for i, (sku, _) in enumerate(pairs):
            by_partition[keys.partition_of_sku(sku)].append(i)
        groups = list(by_partition.values())
    calls = [
        (_READ, [key_list[i] for i in g] + [key_list[len(pairs) + i] for i in g], ["1"])
        for g in groups
    ]
    for group, (flat, supplies) in zip(groups, await redis.run_many(calls), strict=True):
        for n, i in enumerate(group):
            sku, location = pairs[i]
            at = 5 * n
            values = (flat[at], flat[at + 1], flat[at + 2], flat[at + 3], flat[at + 4])
            positions.set(sku, location, values)
            raw = supplies[n]
            for supply_id, value in zip(raw[::2], raw[1::2], strict=True):
                qty, day = value.split("|")
                positions.set_supply(
                    sku, location, Supply(supply_id, int(qty), day_from_number(int(day)))
                )
