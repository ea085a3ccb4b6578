"""Writing ledger events to PostgreSQL: one transaction per batch, idempotent by event id.

Shared by the stream consumer (durability/writer.py) and the engines' group commit
(durability/group_commit.py). Both may write the same events in any order: the journal ignores
an event id it has, the positions table keeps only a newer event's position, and a
reservation's state only moves forward.

Every batch is fenced by the ledger epoch it was read under: entries read from a Redis that
was then lost and rebuilt must not reach the journal after the rebuild read it (the rebuilt
ledger would lack what the journal has, and a retried write would be applied again). A
batch takes the rebuild lock shared, so a rebuild waits for batches already writing and
batches wait for a running rebuild, then writes only if the epoch it was read under is
still the newest (durability/rebuild.py adds an epoch only when its ledger is complete).
"""

from collections.abc import Sequence
from typing import cast

import asyncpg
import msgspec

from atp.events import FIELDS, SHORT, Field
from durability.db import Conn
from durability.limits import LOCK_REBUILD, PENDING

# Stream entry as read: (partition, stream id "ms-seq", fields).
Entry = tuple[int, str, dict[str, str]]

# What `reservation_held` carries of its header: the reservations table's, not columns.
_HEADER_FIELDS = frozenset({"digest", "expires_ms", "parts"})
_JOURNALED = tuple(f for f in FIELDS if f.name not in _HEADER_FIELDS)
# Online ATP before and after each event, which events do not carry (atp/events.py): the
# journal derives them from the position after and the deltas, after the position columns.
_DERIVED = ("atp_before", "atp_after")
_POSITION_END = next(i for i, f in enumerate(_JOURNALED) if f.name == "incoming") + 1

# The journal's columns in table order (migrations/0002, 0003, 0005, 0006), with their
# PostgreSQL types: the stream entry's position, then the event's fields with the derived
# ATP between the position and the reason.
SCHEMA = (
    ("partition", "smallint"),
    ("stream_ms", "bigint"),
    ("stream_seq", "bigint"),
    *((f.name, "bigint" if f.kind is int else "text") for f in _JOURNALED[:_POSITION_END]),
    *((name, "bigint") for name in _DERIVED),
    *((f.name, "bigint" if f.kind is int else "text") for f in _JOURNALED[_POSITION_END:]),
)
_COLUMNS = [name for name, _ in SCHEMA]
_TYPES = [kind for _, kind in SCHEMA]
_TYPE, _RID, _TS, _WHY = (SHORT[name] for name in ("type", "reservation_id", "ts_ms", "reason"))
_DIGEST, _EXPIRES, _PARTS = (SHORT[name] for name in ("digest", "expires_ms", "parts"))

# A header's state only moves up this ranking; extended keeps a hold held. A leg's units
# held before its header is journaled make the row ``pending`` (migrations/0018).
_STATE_RANK = {
    "reserved": (PENDING, 0),
    "reservation_held": ("held", 1),
    "reservation_extended": ("held", 1),
    "reservation_committed": ("committed", 2),
    "reservation_fulfilled": ("fulfilled", 3),
    "reservation_released": ("released", 3),
    "reservation_expired": ("expired", 3),
    "reservation_aborted": ("aborted", 3),
}


class ReservationRow(msgspec.Struct):
    id: str
    channel: str
    state: str
    state_rank: int
    digest: str
    expires_at_ms: int
    created_ms: int
    parts: str
    updated_ms: int


def split_stream_id(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _field_column(field: Field, bodies: Sequence[dict[str, str]]) -> list[object]:
    """One event field's column; where an event does not carry it, the field's default
    (None: NULL)."""
    name, default = field.short, field.default
    if field.always:
        if field.kind is int:
            return [int(f[name]) for f in bodies]
        return [f[name] for f in bodies]
    if field.kind is int:
        return [int(f[name]) if name in f else default for f in bodies]
    return [f.get(name, default) for f in bodies]


def _online_atp(
    after: Sequence[Sequence[int]], deltas: Sequence[Sequence[int]]
) -> tuple[list[object], list[object]]:
    """Online ATP (on hand - reserved - safety, never below 0) before and after each event,
    from its position after ([on hand, reserved, safety] columns) and its deltas."""
    before: list[object] = []
    now: list[object] = []
    for oh, rs, sf, doh, drs, dsf in zip(*after, *deltas, strict=True):
        atp = oh - rs - sf
        now.append(max(0, atp))
        before.append(max(0, atp - (doh - drs - dsf)))
    return before, now


def entry_columns(entries: Sequence[Entry]) -> list[list[object]]:
    """The batch as one list per journal column (how the insert takes it): a pass per
    column is several times faster in CPython than a tuple per entry."""
    ids = [split_stream_id(sid) for _, sid, _ in entries]
    bodies = [f for _, _, f in entries]
    fields = {field.name: _field_column(field, bodies) for field in _JOURNALED}
    # int columns with int defaults: no None in them
    after = [cast(list[int], fields[n]) for n in ("on_hand", "reserved", "safety")]
    deltas = [cast(list[int], fields[n]) for n in ("d_on_hand", "d_reserved", "d_safety")]
    fields["atp_before"], fields["atp_after"] = _online_atp(after, deltas)
    columns: list[list[object]] = [
        [p for p, _, _ in entries],
        [ms for ms, _ in ids],
        [seq for _, seq in ids],
    ]
    return columns + [fields[name] for name in _COLUMNS[3:]]


def reservation_rows(entries: Sequence[Entry]) -> list[ReservationRow]:
    """One merged row per reservation touched by header events or holding a leg's units,
    in stream order. The held event carries its header's channel (why), creation (ts),
    digest, deadline and parts."""
    rows: dict[str, ReservationRow] = {}
    for _, _, f in entries:
        kind = f[_TYPE]
        ranked = _STATE_RANK.get(kind)
        if ranked is None:
            continue
        rid, ts = f[_RID], int(f[_TS])
        row = rows.get(rid)
        if row is None:
            row = rows[rid] = ReservationRow(rid, "", ranked[0], ranked[1], "", 0, 0, "", ts)
        if ranked[1] > row.state_rank:
            row.state, row.state_rank = ranked
        row.updated_ms = max(row.updated_ms, ts)
        if kind == "reservation_held":
            row.channel, row.created_ms = f.get(_WHY, ""), ts
            row.digest, row.parts = f.get(_DIGEST, ""), f.get(_PARTS, "")
            row.expires_at_ms = max(row.expires_at_ms, int(f.get(_EXPIRES, 0)))
        elif kind == "reservation_extended":
            row.expires_at_ms = max(row.expires_at_ms, int(f[_WHY]))
    return list(rows.values())


_APPLY = """
ins AS (
    INSERT INTO ledger_events SELECT * FROM {source}
    ON CONFLICT DO NOTHING RETURNING *
), pos AS (
    INSERT INTO positions
    SELECT DISTINCT ON (sku, location)
        sku, location, on_hand, reserved, safety, incoming, stream_ms, stream_seq
    FROM ins WHERE sku <> ''
    ORDER BY sku, location, stream_ms DESC, stream_seq DESC
    ON CONFLICT (sku, location) DO UPDATE SET
        on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
        safety = EXCLUDED.safety, incoming = EXCLUDED.incoming,
        stream_ms = EXCLUDED.stream_ms, stream_seq = EXCLUDED.stream_seq
    WHERE (positions.stream_ms, positions.stream_seq)
        < (EXCLUDED.stream_ms, EXCLUDED.stream_seq)
)
SELECT count(*) FROM ins
"""

# Small batches (a group commit): one statement, the batch as one array per column, so one
# round trip that commits on its own. New events go into the journal and the positions they
# end at are upserted.
_INSERT_ARRAYS = (
    "WITH batch AS (SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_TYPES))
    + f") AS b({', '.join(_COLUMNS)})), "
    + _APPLY.format(source="batch")
)
# Large batches (the stream consumer): binary COPY into a temporary table is ~40% cheaper
# than encoding arrays (asyncpg checks every array element's type).
_SETUP_COPY = """
CREATE TEMP TABLE IF NOT EXISTS journal_incoming
    (LIKE ledger_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
_INSERT_COPIED = "WITH " + _APPLY.format(source="journal_incoming")
COPY_BATCH_MIN = 200


def _upsert_reservations(first: int) -> str:
    """The reservations upsert taking its nine arrays from parameter ``first`` on."""
    types = ["text", "text", "text", "smallint", "text", "bigint", "bigint", "text", "bigint"]
    arrays = ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types))
    return f"""
INSERT INTO reservations AS r
    (id, channel, state, state_rank, digest, expires_at_ms, created_ms, parts, updated_ms)
SELECT * FROM unnest({arrays})
ON CONFLICT (id) DO UPDATE SET
    state = CASE WHEN EXCLUDED.state_rank > r.state_rank THEN EXCLUDED.state ELSE r.state END,
    state_rank = GREATEST(r.state_rank, EXCLUDED.state_rank),
    channel = CASE WHEN r.channel = '' THEN EXCLUDED.channel ELSE r.channel END,
    digest = CASE WHEN r.digest = '' THEN EXCLUDED.digest ELSE r.digest END,
    parts = CASE WHEN r.parts = '' THEN EXCLUDED.parts ELSE r.parts END,
    created_ms = GREATEST(r.created_ms, EXCLUDED.created_ms),
    expires_at_ms = GREATEST(r.expires_at_ms, EXCLUDED.expires_at_ms),
    updated_ms = GREATEST(r.updated_ms, EXCLUDED.updated_ms)
"""


_UPSERT_RESERVATIONS = _upsert_reservations(1)
# Small batches: events, positions and reservation headers in one statement.
_INSERT_ALL = _INSERT_ARRAYS.replace(
    "\nins AS (", f"res AS ({_upsert_reservations(len(_COLUMNS) + 1)}),\nins AS (", 1
)
assert "res AS" in _INSERT_ALL


def _reservation_columns(rows: Sequence[ReservationRow]) -> list[list[object]]:
    return [[getattr(r, f) for r in rows] for f in ReservationRow.__struct_fields__]


class StaleEpoch(Exception):
    """The entries were read from a ledger that has since been rebuilt: not journaled."""


STALE_EPOCH_SQLSTATE = "AT001"  # raised by atp_journal_fence (migrations/0019)
_FENCE = "SELECT atp_journal_fence($1, $2)"
# Small batches: the fence inside the one statement. Whichever order PostgreSQL runs the
# parts in, a failed fence aborts the statement and the lock is held to its commit; the
# fence is read in the statement's own FROM, so it always runs.
_N_ARGS = len(_COLUMNS) + len(ReservationRow.__struct_fields__)
_INSERT_FENCED = _INSERT_ALL.replace(
    "WITH batch AS (",
    f"WITH fence AS (SELECT atp_journal_fence(${_N_ARGS + 1}, ${_N_ARGS + 2}) AS ok), batch AS (",
    1,
).replace("\nSELECT count(*) FROM ins", "\nSELECT (SELECT count(*) FROM ins) FROM fence")
assert "FROM fence" in _INSERT_FENCED and "fence AS" in _INSERT_FENCED


def _stale(error: asyncpg.PostgresError) -> bool:
    return error.sqlstate == STALE_EPOCH_SQLSTATE


async def write_entries(conn: Conn, entries: Sequence[Entry], epoch: str) -> int:
    """Journals a batch read under ledger ``epoch`` atomically; returns how many events were
    new. Raises StaleEpoch, writing nothing, if the ledger was rebuilt since."""
    if not entries:
        return 0
    columns = entry_columns(entries)
    res = _reservation_columns(reservation_rows(entries))
    try:
        if len(entries) < COPY_BATCH_MIN:  # a group commit: one statement, one round trip
            inserted: int = await conn.fetchval(
                _INSERT_FENCED, *columns, *res, int(epoch), LOCK_REBUILD
            )
            return inserted
        async with conn.transaction():
            await conn.execute(_FENCE, int(epoch), LOCK_REBUILD)
            await conn.execute(_SETUP_COPY)
            records = list(zip(*columns, strict=True))
            await conn.copy_records_to_table("journal_incoming", records=records, columns=_COLUMNS)
            inserted = await conn.fetchval(_INSERT_COPIED)
            if res[0]:
                await conn.execute(_UPSERT_RESERVATIONS, *res)
        return inserted
    except asyncpg.PostgresError as error:
        if _stale(error):
            raise StaleEpoch(str(error)) from error
        raise
