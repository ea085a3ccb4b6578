"""Reading the ledger's event streams back as typed events."""

from typing import Any

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.model import Event
from atp.redis_io import RedisIO, hash_reply

_INT_FIELDS = {
    "doh": "d_on_hand",
    "drs": "d_reserved",
    "dsf": "d_safety",
    "din": "d_incoming",
    "oh": "on_hand",
    "rs": "reserved",
    "sf": "safety",
    "in": "incoming",
    "ab": "atp_before",
    "aa": "atp_after",
    "ts": "ts_ms",
}
_STR_FIELDS = {
    "t": "type",
    "sku": "sku",
    "loc": "location",
    "why": "reason",
    "rid": "reservation_id",
    "op": "op_id",
}


def decode_entry(partition: int, stream_id: str, fields: dict[str, str]) -> Event:
    values: dict[str, Any] = {"id": f"{partition}-{stream_id}"}
    for short, name in _INT_FIELDS.items():
        values[name] = int(fields[short])
    for short, name in _STR_FIELDS.items():
        values[name] = fields[short]
    if "os" in fields:
        values["oversold"] = int(fields["os"])
    return Event(**values)


async def read_events(
    redis: RedisIO, partition: int, after: str = "-", count: int = 10_000
) -> list[Event]:
    """Events of one partition in order, from ``after`` (exclusive unless "-")."""
    start = after if after == "-" else f"({after}"
    entries = await redis.command("XRANGE", keys.stream(partition), start, "+", "COUNT", count)
    return [decode_entry(partition, stream_id, hash_reply(fields)) for stream_id, fields in entries]


async def read_all_events(redis: RedisIO) -> dict[int, list[Event]]:
    """Every partition's whole stream; for replay checks and tools, not for hot paths."""
    result = {}
    for partition in range(LEDGER_PARTITIONS):
        events: list[Event] = []
        after = "-"
        while batch := await read_events(redis, partition, after):
            events += batch
            after = batch[-1].id.split("-", 1)[1]
        result[partition] = events
    return result
