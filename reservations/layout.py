"""How a reservation is stored in Redis: the fields of its header hash and of its legs'
hashes, and the one place on the Python side that builds and parses them.

The reservation scripts (reservations/lua/) write the same names;
tests/reservations/test_layout.py reads the Lua and fails when they differ.

Header (atp/keys.py ``header``, in the partition of crc32("r:"+rid)): the one authority
for the reservation's state (a ``reservations.model.State``) and deadline.

Leg (atp/keys.py ``leg``, one per partition its lines touch): the units. Per line i the
field is the line field's prefix and i (``s1 l1 q1 o1 f1 r1 x1``); ``f r x`` (fulfilled,
released, expired) are absent while 0 (a hold writes no zeros; HINCRBY creates them) and
read as 0. One line per sku and location, and a line's index never changes (a move appends
a line for a new location).
``op:<op_id>`` holds the request digest of a settle or move with an op id (its receipt).

A leg has states of its own (``LegState``), not a reservation's: ``held`` and
``committed`` follow the header; ``closed`` once no unit of it is open, every one
fulfilled or released (leg_settle.lua, and a rebuild of such a leg); ``expired`` once its
held units went back because the reservation expired or was abandoned (leg_expire.lua; a
rolled-back leg is deleted instead). What callers are told is derived from the header and
the legs' counts (``derived_state``), never from a leg's state.
"""

import enum
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import msgspec

from atp.limits import LEG_LINES_MAX
from atp.model import Channel
from atp.redis_io import hash_reply
from reservations.model import LineStatus, Reservation, State, derived_state


class _HeaderFields(NamedTuple):
    state: str = "st"
    digest: str = "d"  # the request a retry must repeat ('' on a tombstone)
    channel: str = "ch"
    expires_ms: str = "exp"  # the hold's deadline
    created_ms: str = "ts"
    parts: str = "parts"  # the legs' partitions, comma-separated


class _LegFields(NamedTuple):
    """The key names the reservation (atp/keys.py ``leg``): no field repeats it."""

    digest: str = "d"
    state: str = "st"  # a LegState
    channel: str = "ch"
    lines: str = "n"  # how many lines
    committed_ms: str = "ct"  # stamped at the leg's commit: the committed index's order


class _LineFields(NamedTuple):
    """Prefixes, in LineStatus's field order."""

    sku: str = "s"
    location: str = "l"
    qty: str = "q"
    open: str = "o"
    fulfilled: str = "f"
    released: str = "r"
    expired: str = "x"  # expired, or rolled back when the attempt failed elsewhere


HEADER = _HeaderFields()
LEG = _LegFields()
LINE = _LineFields()
OP_RECEIPT = "op:"
assert LINE._fields == LineStatus.__struct_fields__


class LegState(enum.StrEnum):
    held = "held"
    committed = "committed"
    closed = "closed"
    expired = "expired"


# Each line index's field names, built once: legs are read on every reservation read.
# LEG_LINES_MAX bounds a leg's lines (leg_move.lua refuses to add one past it).
_LINE_NAMES = tuple(tuple(f"{prefix}{i}" for prefix in LINE) for i in range(LEG_LINES_MAX + 1))


def _line_names(index: int) -> tuple[str, ...]:
    if index <= LEG_LINES_MAX:
        return _LINE_NAMES[index]
    return tuple(f"{prefix}{index}" for prefix in LINE)


def line_field(prefix: str, index: int) -> str:
    """One field of line ``index`` (from 1): ``line_field(LINE.open, 2)`` is ``o2``."""
    return f"{prefix}{index}"


def op_receipt(op_id: str) -> str:
    return OP_RECEIPT + op_id


def as_dict(reply: Sequence[str] | dict[str, str]) -> dict[str, str]:
    """A hash reply as a dict of strings (atp.redis_io.hash_reply)."""
    return hash_reply(reply)


# The line fields a leg omits while they are 0 (a hold writes none; HINCRBY creates them).
_COUNTS = frozenset({LINE.fulfilled, LINE.released, LINE.expired})
_KEPT = tuple(prefix not in _COUNTS for prefix in LINE)


def line_fields(index: int, line: LineStatus) -> list[str]:
    """Line ``index``'s fields and values, flat, as the scripts write them: fulfilled,
    released and expired only when not 0."""
    pairs = zip(_line_names(index), msgspec.structs.astuple(line), _KEPT, strict=True)
    return [text for name, value, kept in pairs if kept or value for text in (name, str(value))]


def leg_fields(digest: str, state: str, channel: str, lines: Sequence[LineStatus]) -> list[str]:
    """A whole leg's fields and values, flat (for HSET), lines numbered from 1."""
    fields = [LEG.digest, digest, LEG.state, state, LEG.channel, channel]
    fields += [LEG.lines, str(len(lines))]
    for i, line in enumerate(lines, start=1):
        fields += line_fields(i, line)
    return fields


def leg_lines(leg: Mapping[str, str]) -> list[LineStatus]:
    lines = []
    get = leg.get
    for i in range(1, int(get(LEG.lines, 0)) + 1):
        s, loc, q, o, f, r, x = _line_names(i)
        counts = int(get(f, 0)), int(get(r, 0)), int(get(x, 0))  # absent while 0
        lines.append(LineStatus(leg[s], leg[loc], int(leg[q]), int(leg[o]), *counts))
    return lines


class Header(msgspec.Struct, frozen=True):
    state: str
    digest: str
    channel: str
    expires_ms: int
    created_ms: int
    parts: str


def header_fields(header: Header) -> list[str]:
    """A header's fields and values, flat (for HSET)."""
    return [
        HEADER.state, header.state, HEADER.digest, header.digest,
        HEADER.channel, header.channel, HEADER.expires_ms, str(header.expires_ms),
        HEADER.created_ms, str(header.created_ms), HEADER.parts, header.parts,
    ]  # fmt: skip


def header_from(raw: Mapping[str, str]) -> Header:
    """A header hash as read; a field it lacks reads as '' or 0."""
    return Header(
        raw.get(HEADER.state, ""),
        raw.get(HEADER.digest, ""),
        raw.get(HEADER.channel, ""),
        int(raw.get(HEADER.expires_ms, 0)),
        int(raw.get(HEADER.created_ms, 0)),
        raw.get(HEADER.parts, ""),
    )


def reservation_from(
    reservation_id: str, header: Mapping[str, str], legs: Sequence[Mapping[str, str]]
) -> Reservation:
    lines = sorted(
        (ln for leg in legs for ln in leg_lines(leg)), key=lambda ln: (ln.sku, ln.location)
    )
    state = State(header[HEADER.state])
    expires = int(header[HEADER.expires_ms]) if state is State.held else None
    channel = header.get(HEADER.channel)
    return Reservation(
        id=reservation_id,
        channel=Channel(channel) if channel else Channel.online,
        state=derived_state(state, lines),
        expires_at_ms=expires,
        lines=lines,
    )


def partitions_of(parts: str) -> tuple[int, ...]:
    """A header's ``parts`` field (csv of leg partitions) as partition numbers."""
    return tuple(int(p) for p in parts.split(",") if p)
