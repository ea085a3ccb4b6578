"""Ledger invariants checked against what Redis holds (not against any model)."""

from collections import defaultdict

from atp import keys
from atp.events import read_all_events
from atp.limits import LEDGER_PARTITIONS
from atp.model import Event
from atp.redis_io import RedisIO
from oracles.ledger import replay


async def scan(redis: RedisIO, pattern: str) -> list[str]:
    found: list[str] = []
    cursor = "0"
    while True:
        cursor, batch = await redis.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        found += batch
        if cursor == "0":
            return found


async def positions_in_redis(redis: RedisIO) -> dict[tuple[str, str], list[int]]:
    result = {}
    for key in await scan(redis, "atp:*:pos:*"):
        location, sku = key.split(":pos:", 1)[1].split(":", 1)
        oh, rs, sf, inc = await redis.command("HMGET", key, "oh", "rs", "sf", "in")
        result[(sku, location)] = [int(oh or 0), int(rs or 0), int(sf or 0), int(inc or 0)]
    return result


async def open_units_by_position(redis: RedisIO) -> dict[tuple[str, str], int]:
    open_units: dict[tuple[str, str], int] = defaultdict(int)
    for key in await scan(redis, "atp:*:leg:*"):
        leg = await redis.command("HGETALL", key)
        fields = leg if isinstance(leg, dict) else dict(zip(leg[::2], leg[1::2], strict=True))
        for i in range(1, int(fields["n"]) + 1):
            open_units[(fields[f"s{i}"], fields[f"l{i}"])] += int(fields[f"o{i}"])
    return open_units


async def check_resourcing_index(
    redis: RedisIO, positions: dict[tuple[str, str], list[int]]
) -> None:
    """Every open line of a committed leg is in its partition's committed index (and
    nothing else is); every short position (on hand < reserved) is in the shortage set."""
    expected: set[str] = set()
    for key in await scan(redis, "atp:*:leg:*"):
        leg = await redis.command("HGETALL", key)
        fields = leg if isinstance(leg, dict) else dict(zip(leg[::2], leg[1::2], strict=True))
        if fields.get("st") != "committed":
            continue
        rid = key.rsplit(":leg:", 1)[1]  # the key names the reservation
        for i in range(1, int(fields["n"]) + 1):
            if int(fields[f"o{i}"]) > 0:
                member = f"{fields[f'l{i}']}|{fields[f's{i}']}|{int(fields['ct']):015d}"
                expected.add(f"{keys.partition_of_key(key)}:{member}|{rid}")
    indexed: set[str] = set()
    shortages: set[tuple[str, str]] = set()
    for p in range(LEDGER_PARTITIONS):
        indexed |= {
            f"{p}:{m}" for m in await redis.command("ZRANGE", keys.committed_index(p), 0, -1)
        }
        for member in await redis.command("SMEMBERS", keys.shortages(p)):
            location, sku = member.split("|", 1)
            shortages.add((sku, location))
    assert indexed == expected, f"committed index {sorted(indexed ^ expected)[:5]}"
    short = {pair for pair, v in positions.items() if v[0] < v[1]}
    assert short <= shortages, f"short positions not queued: {sorted(short - shortages)[:5]}"


def check_reservations_never_oversell(events: list[Event]) -> None:
    for e in events:
        if e.type != "reserved":
            continue
        held_back = e.safety if e.reason == "online" else 0
        assert e.on_hand - e.reserved - held_back >= 0, f"reservation into negative ATP: {e}"


async def check_ledger_invariants(
    redis: RedisIO, events: dict[int, list[Event]] | None = None
) -> dict[int, list[Event]]:
    """reserved == open units of reservation legs (and the re-sourcing index and shortage
    set agree with legs and positions); replaying the events from zero gives the
    positions; no reservation took a channel's ATP below zero. Returns the events."""
    positions = await positions_in_redis(redis)
    open_units = await open_units_by_position(redis)
    for pair, vector in positions.items():
        assert vector[1] == open_units.get(pair, 0), f"{pair}: reserved {vector[1]} != open lines"
    await check_resourcing_index(redis, positions)
    if events is None:
        events = await read_all_events(redis)
    replayed: dict[tuple[str, str], list[int]] = {}
    for partition_events in events.values():
        replayed |= replay(partition_events)
        check_reservations_never_oversell(partition_events)
    assert replayed == {pair: v for pair, v in positions.items() if pair in replayed}
    assert set(replayed) == set(positions)
    return events
