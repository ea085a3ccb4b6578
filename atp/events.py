"""The ledger event's stream fields, named once, and reading the streams back as events.

``FIELDS`` is the one table of what a stream entry carries (atp/lua/_prelude.lua ``emit``
writes them; tests/atp/test_event_fields.py reads the Lua and fails when the two differ).
Everything else on the Python side takes names and kinds from it: the decoding to
``Event`` here, the replica, the journal's columns (durability/store.py) and its check
that an entry is a ledger event (durability/streams.py).
"""

from typing import Any, NamedTuple

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.model import Event
from atp.redis_io import RedisIO, hash_reply


class Field(NamedTuple):
    short: str  # as the stream spells it
    name: str  # the long name: Event's attribute and the journal's column
    kind: type[int] | type[str]
    always: bool  # every event carries it; else only the events it concerns
    absent: str | None = None  # what the journal records when an event does not carry it


# In the journal's column order (migrations/0002, 0003, 0005, 0006), which is emit's.
FIELDS: tuple[Field, ...] = (
    Field("t", "type", str, True),
    Field("sku", "sku", str, True),  # '' on a header event
    Field("loc", "location", str, True),
    Field("doh", "d_on_hand", int, True),
    Field("drs", "d_reserved", int, True),
    Field("dsf", "d_safety", int, True),
    Field("din", "d_incoming", int, True),
    Field("oh", "on_hand", int, True),  # the position after the change
    Field("rs", "reserved", int, True),
    Field("sf", "safety", int, True),
    Field("in", "incoming", int, True),
    Field("ab", "atp_before", int, True),  # online ATP
    Field("aa", "atp_after", int, True),
    Field("why", "reason", str, True),
    Field("rid", "reservation_id", str, True),
    Field("op", "op_id", str, True),
    Field("ts", "ts_ms", int, True),
    # Units registers oversold at the position, on the events that change it (and counts).
    Field("os", "oversold", int, False),
    # A register event (register_apply.lua): what a rebuild restores device logs and receipts from.
    Field("dev", "device_id", str, False),
    Field("eid", "device_event", str, False),
    Field("dseq", "device_seq", int, False),
    Field("dig", "body_digest", str, False),
    Field("tdig", "target_digest", str, False),  # a void's target's
    Field("opd", "op_digest", str, False),  # a settle with an op id: the leg's receipt
    # The acting party (atp/actor.py), each only when not empty.
    Field("by", "actor", str, False, ""),
    Field("ref", "reference", str, False, ""),
)
SHORT: dict[str, str] = {f.name: f.short for f in FIELDS}  # long name -> stream field
REQUIRED = frozenset(f.short for f in FIELDS if f.always)  # what makes an entry an event
# What Event holds: a field it has no attribute for is not decoded.
_DECODED = tuple(f for f in FIELDS if f.name in Event.__struct_fields__)


def decode_entry(partition: int, stream_id: str, fields: dict[str, str]) -> Event:
    values: dict[str, Any] = {"id": f"{partition}-{stream_id}"}
    for f in _DECODED:
        raw = fields.get(f.short)
        if raw is not None:
            values[f.name] = int(raw) if f.kind is int else raw
        elif f.always:
            raise KeyError(f.short)
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
