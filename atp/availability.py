"""Availability reads: one position, a batch, a location group, a promise date."""

import asyncio
import zlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from importlib import resources

from atp import keys
from atp.limits import (
    BATCH_LOCATIONS_MAX,
    BATCH_POSITIONS_MAX,
    BATCH_SKUS_MAX,
    EVENT_STREAM_MAXLEN,
    GROUP_LOCATIONS_MAX,
    LEDGER_PARTITIONS,
)
from atp.model import Channel, InvalidInput, Position, Supply
from atp.redis_io import Arg, RedisIO
from atp.rules import day_from_number, group_atp, promise_date
from atp.scripts import Script, load_script
from atp.validate import check_id, check_qty, is_plain_id

_READ = load_script("atp.lua", "read_positions")
# Beside its caller (atp/lua holds the ledger's position scripts); with the shared prelude.
_DEFINE_GROUP = Script(
    "group_define",
    resources.files("atp.lua").joinpath("_prelude.lua").read_text()
    + """
-- group_define: a location group's members replaced and journaled in one step; a rebuild
-- restores the newest definition of each group from its `group_defined` event.
-- KEYS as ARGV[1] says: 'set+event' KEYS[1] the group's set, KEYS[2] the stream of the
--     group's partition (a single Redis: one atomic step); on a cluster, where the two are
--     in different slots, 'set' (KEYS[1] the set) then 'event' (KEYS[1] the stream)
-- ARGV[2] group name  [3] now_ms (0: server time)  [4] stream maxlen  [5..] the members,
--     then the acting party (take_actor)
-- returns the number of members
local nargs = take_actor()
local what, name = ARGV[1], ARGV[2]
local members = {}
for i = 5, nargs do members[#members + 1] = ARGV[i] end
if #members == 0 then return redis.error_reply('a group needs members') end
local stream = nil
if what == 'event' then
  stream = KEYS[1]
else
  redis.call('DEL', KEYS[1])
  redis.call('SADD', KEYS[1], unpack(members))
  if what == 'set+event' then stream = KEYS[2] end
end
if stream then
  emit({stream = stream, maxlen = ARGV[4], now = clock_ms(ARGV[3]), type = 'group_defined',
    reason = name .. ':' .. table.concat(members, ',')})
end
return #members
""",
    actor=True,
)


def partition_of_group(name: str) -> int:
    """The partition whose stream journals a location group's definitions."""
    return zlib.crc32(b"g:" + name.encode()) % LEDGER_PARTITIONS


Pair = tuple[str, str]  # (sku, location)


def _supplies(flat: list[str]) -> list[Supply]:
    supplies = []
    for supply_id, value in zip(flat[::2], flat[1::2], strict=True):
        qty, day = value.split("|")
        supplies.append(Supply(supply_id, int(qty), day_from_number(int(day))))
    return supplies


def check_list(field: str, values: Sequence[str], limit: int) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidInput(field, "must be a list")
    if not 1 <= len(values) <= limit:
        raise InvalidInput(field, f"must hold 1 to {limit} entries")
    checked = list(values)
    if not all(map(is_plain_id, checked)):  # the common case costs no field name per entry
        for i, v in enumerate(checked):
            check_id(f"{field}[{i}]", v)
    if len(set(checked)) != len(checked):
        raise InvalidInput(field, "must not repeat an entry")
    return checked


class Availability:
    """Unknown SKUs and locations read as zero: a store that never stocked an item has none."""

    def __init__(self, redis: RedisIO) -> None:
        self._redis = redis

    async def _read(
        self, pairs: Sequence[Pair], with_supply: bool = False
    ) -> dict[Pair, tuple[Position, list[Supply]]]:
        # One call per hash slot on a cluster; a single Redis takes them all in one call.
        if self._redis.cross_slot_scripts:
            return dict(await self._read_batch(list(pairs), with_supply))
        else:
            by_partition: dict[int, list[Pair]] = defaultdict(list)
            for pair in pairs:
                by_partition[keys.partition_of_sku(pair[0])].append(pair)
            batches = list(by_partition.values())
        if len(batches) == 1:
            return dict(await self._read_batch(batches[0], with_supply))
        replies = await asyncio.gather(*(self._read_batch(b, with_supply) for b in batches))
        return {pair: row for reply in replies for pair, row in reply}

    async def _read_batch(
        self, pairs: list[Pair], with_supply: bool
    ) -> list[tuple[Pair, tuple[Position, list[Supply]]]]:
        key_list = [keys.position(sku, loc) for sku, loc in pairs]
        if with_supply:
            key_list += [keys.incoming(sku, loc) for sku, loc in pairs]
        flat, supplies = await self._redis.run(_READ, key_list, ["1" if with_supply else "0"])
        rows = []
        for i, (sku, loc) in enumerate(pairs):
            at = 5 * i  # oh rs sf in os
            position = Position(sku, loc, flat[at], flat[at + 1], flat[at + 2], flat[at + 3])
            rows.append(((sku, loc), (position, _supplies(supplies[i]) if with_supply else [])))
        return rows

    async def position(self, sku: str, location: str) -> Position:
        if not (is_plain_id(sku) and is_plain_id(location)):
            check_id("sku", sku)
            check_id("location", location)
        # A plain HMGET: cheaper than a script for the client and for Redis.
        values = await self._redis.command(
            "HMGET", keys.position(sku, location), "oh", "rs", "sf", "in"
        )
        return Position(sku, location, *(int(v) if v is not None else 0 for v in values))

    async def positions(self, skus: Sequence[str], locations: Sequence[str]) -> list[Position]:
        """Every SKU x location asked, in one round trip on a single Redis (sku-major order)."""
        skus = check_list("skus", skus, BATCH_SKUS_MAX)
        locations = check_list("locations", locations, BATCH_LOCATIONS_MAX)
        if len(skus) * len(locations) > BATCH_POSITIONS_MAX:
            raise InvalidInput("skus", f"skus x locations must not exceed {BATCH_POSITIONS_MAX}")
        pairs = [(sku, loc) for sku in skus for loc in locations]
        rows = await self._read(pairs)
        return [rows[pair][0] for pair in pairs]

    async def supplies(self, pairs: Sequence[Pair]) -> dict[Pair, list[Supply]]:
        """Incoming supply at each (sku, location), in one round trip on a single Redis."""
        if len(pairs) > BATCH_POSITIONS_MAX:
            raise InvalidInput("pairs", f"must not exceed {BATCH_POSITIONS_MAX} positions")
        for sku, location in pairs:
            if not (is_plain_id(sku) and is_plain_id(location)):
                check_id("sku", sku)
                check_id("location", location)
        rows = await self._read(pairs, with_supply=True)
        return {pair: supplies for pair, (_, supplies) in rows.items()}

    async def define_group(self, name: str, locations: Sequence[str]) -> None:
        """Replaces the group's members; the `group_defined` event journals it."""
        check_id("group", name)
        members = check_list("locations", locations, GROUP_LOCATIONS_MAX)
        group_key, stream = keys.group(name), keys.stream(partition_of_group(name))
        args: list[Arg] = [name, 0, EVENT_STREAM_MAXLEN, *members]
        if self._redis.cross_slot_scripts:
            await self._redis.run(_DEFINE_GROUP, [group_key, stream], ["set+event", *args])
            return
        await self._redis.run(_DEFINE_GROUP, [group_key], ["set", *args])
        await self._redis.run(_DEFINE_GROUP, [stream], ["event", *args])

    async def group_members(self, name: str) -> list[str]:
        check_id("group", name)
        members = await self._redis.command("SMEMBERS", keys.group(name))
        if not members:
            raise InvalidInput("group", f"unknown location group {name!r}")
        return sorted(members)

    async def group(self, sku: str, name: str, channel: Channel) -> tuple[list[Position], int]:
        """Each member's position and the group's ATP (the sum of the members')."""
        check_id("sku", sku)
        members = await self.group_members(name)
        rows = await self._read([(sku, loc) for loc in members])
        positions = [rows[(sku, loc)][0] for loc in members]
        return positions, group_atp(positions, channel)

    async def promise(
        self, sku: str, qty: int, locations: Sequence[str], channel: Channel, today: date
    ) -> date | None:
        """The earliest day ``qty`` can be promised over ``locations``, counting incoming."""
        check_id("sku", sku)
        check_qty("qty", qty)
        locations = check_list("locations", locations, GROUP_LOCATIONS_MAX)
        rows = await self._read([(sku, loc) for loc in locations], with_supply=True)
        return promise_date(rows.values(), qty, channel, today)

    async def promise_in_group(
        self, sku: str, qty: int, group: str, channel: Channel, today: date
    ) -> date | None:
        return await self.promise(sku, qty, await self.group_members(group), channel, today)
