"""The ledger event's stream fields, named once, and reading the streams back as events.

``FIELDS`` is the one table of what a stream entry may carry and what a reader takes when
it does not (atp/lua/_prelude.lua ``emit`` and ``emit_reserved`` write them;
tests/atp/test_event_fields.py reads the Lua and fails when the two differ). An entry carries
only what a reader cannot derive: every event its type and time; a position event (one with
a sku) the position after it and the deltas that are not zero; reason, reservation and
operation ids when not empty. Everything else on the Python side takes names, kinds and
defaults from it: the decoding to ``Event`` here, the replica, the journal's columns
(durability/store.py, which also derives the online ATP before and after) and its check that
an entry is a ledger event (durability/streams.py).
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
    # What a reader takes when an entry does not carry it (None: the journal's NULL).
    default: int | str | None = None
    always: bool = False  # every event carries it


# In the journal's column order (migrations/0002, 0003, 0005, 0006), then the header
# fields of `reservation_held`, which feed the journal's reservations table.
FIELDS: tuple[Field, ...] = (
    Field("t", "type", str, always=True),
    Field("sku", "sku", str, ""),  # position events only
    Field("loc", "location", str, ""),
    Field("doh", "d_on_hand", int, 0),  # the deltas, each only when not zero
    Field("drs", "d_reserved", int, 0),
    Field("dsf", "d_safety", int, 0),
    Field("din", "d_incoming", int, 0),
    Field("oh", "on_hand", int, 0),  # the position after the change: every position event
    Field("rs", "reserved", int, 0),
    Field("sf", "safety", int, 0),
    Field("in", "incoming", int, 0),
    Field("why", "reason", str, ""),
    Field("rid", "reservation_id", str, ""),
    Field("op", "op_id", str, ""),
    Field("ts", "ts_ms", int, always=True),  # the script's clock (tests drive a manual one)
    # Units registers oversold at the position, on the events that change it (and counts).
    Field("os", "oversold", int),
    # A register event (register_apply.lua): what a rebuild restores device logs and receipts from.
    Field("dev", "device_id", str),
    Field("eid", "device_event", str),
    Field("dseq", "device_seq", int),
    Field("dig", "body_digest", str),
    Field("tdig", "target_digest", str),  # a void's target's
    Field("opd", "op_digest", str),  # a settle with an op id: the leg's receipt
    # The acting party (atp/actor.py), each only when not empty.
    Field("by", "actor", str, ""),
    Field("ref", "reference", str, ""),
    # `reservation_held`: its header's digest, deadline and leg partitions (channel is its
    # why, creation its ts), so the journal records the reservation without reading Redis.
    Field("d", "digest", str, ""),
    Field("exp", "expires_ms", int, 0),
    Field("parts", "parts", str, ""),
)
SHORT: dict[str, str] = {f.name: f.short for f in FIELDS}  # long name -> stream field
REQUIRED = frozenset(f.short for f in FIELDS if f.always)  # what makes an entry an event
# What Event holds: a field it has no attribute for is not decoded.
_DECODED = tuple(f for f in FIELDS if f.name in Event.__struct_fields__)


def decode_entry(partition: int, stream_id: str, fields: dict[str, str]) -> Event:
    """An entry as an Event; a field the entry does not carry keeps Event's default (the
    same as FIELDS's)."""
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
