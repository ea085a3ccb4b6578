"""The feed's rows in PostgreSQL (migrations/0008_changes.sql): what the sequencer reads
of the journal, the changes it appends, its cursors, and what clients read back."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from atp.model import Channel, Position
from changes.derive import ATP, Change, JournalRow
from changes.limits import LOW_STOCK_THRESHOLD_DEFAULT

NOTIFY_CHANNEL = "atp_changes"  # payload: the newest seq appended

_JOURNAL_COLUMNS = (
    "partition, stream_ms, stream_seq, type, sku, location, on_hand, reserved, safety,"
    " incoming, d_on_hand, d_reserved, d_safety, d_incoming, reason, ts_ms"
)
# Each asked partition's events in (after, upto], in stream order: one statement for all.
_READ_JOURNAL = f"""
SELECT e.* FROM unnest($1::smallint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
    AS c(p, after_ms, after_seq, upto_ms, upto_seq)
CROSS JOIN LATERAL (
    SELECT {_JOURNAL_COLUMNS} FROM ledger_events
    WHERE partition = c.p
      AND (stream_ms, stream_seq) > (c.after_ms, c.after_seq)
      AND (stream_ms, stream_seq) <= (c.upto_ms, c.upto_seq)
    ORDER BY stream_ms, stream_seq
    LIMIT $6
) e
"""
# A SKU's ATP inputs at the given locations as of just before an event (its stream id):
# the newest journaled event of each (ledger_events_history index).
_POSITIONS_BEFORE = """
SELECT DISTINCT ON (location) location, on_hand, reserved, safety
FROM ledger_events
WHERE sku = $1 AND location = ANY($2::text[]) AND (stream_ms, stream_seq) < ($3, $4)
ORDER BY location, stream_ms DESC, stream_seq DESC
"""
_APPEND = """
INSERT INTO changes (seq, type, sku, location, location_group, channel, event_id, data, ts_ms)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::bigint[])
"""

StreamId = tuple[int, int]


@dataclass(frozen=True, slots=True)
class StoredChange:
    seq: int
    type: str
    sku: str
    location: str
    group: str
    channel: str
    data: str  # the JSON object, as sent


def rfc3339_ms(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def read_journal(
    conn: asyncpg.Connection, ranges: Mapping[int, tuple[StreamId, StreamId]], per_partition: int
) -> dict[int, list[JournalRow]]:
    """partition -> its journaled events in (after, upto], oldest first, at most
    ``per_partition`` of them."""
    parts = sorted(ranges)
    rows = await conn.fetch(
        _READ_JOURNAL,
        parts,
        [ranges[p][0][0] for p in parts],
        [ranges[p][0][1] for p in parts],
        [ranges[p][1][0] for p in parts],
        [ranges[p][1][1] for p in parts],
        per_partition,
    )
    found: dict[int, list[JournalRow]] = {p: [] for p in parts}
    for r in rows:
        found[r["partition"]].append(
            JournalRow(
                f"{r['partition']}-{r['stream_ms']}-{r['stream_seq']}",
                (r["stream_ms"], r["stream_seq"]),
                r["type"], r["sku"], r["location"],
                r["on_hand"], r["reserved"], r["safety"], r["incoming"],
                r["d_on_hand"], r["d_reserved"], r["d_safety"], r["d_incoming"],
                r["reason"], r["ts_ms"],
            )
        )  # fmt: skip
    return found


async def atp_before(
    conn: asyncpg.Connection, sku: str, locations: Sequence[str], before: StreamId
) -> dict[str, ATP]:
    rows = await conn.fetch(_POSITIONS_BEFORE, sku, list(locations), before[0], before[1])
    found: dict[str, ATP] = {}
    for r in rows:
        position = Position(sku, r["location"], r["on_hand"], r["reserved"], r["safety"], 0)
        found[r["location"]] = (position.atp(Channel.online), position.atp(Channel.store))
    return found


async def append(conn: asyncpg.Connection, first_seq: int, changes: Sequence[Change]) -> int:
    """Numbers ``changes`` from ``first_seq`` and inserts them; the last seq used."""
    encode = msgspec.json.encode
    columns: list[list[Any]] = [[] for _ in range(9)]
    for seq, change in enumerate(changes, first_seq):
        values = (
            seq, change.type, change.sku, change.location, change.group, change.channel,
            change.event_id, encode(change.data).decode(), change.ts_ms,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if changes:
        await conn.execute(_APPEND, *columns)
    return first_seq + len(changes) - 1


async def load_cursors(conn: asyncpg.Connection) -> dict[int, StreamId]:
    rows = await conn.fetch("SELECT partition, stream_ms, stream_seq FROM change_cursors")
    return {r["partition"]: (r["stream_ms"], r["stream_seq"]) for r in rows}


async def save_cursors(conn: asyncpg.Connection, cursors: Mapping[int, StreamId]) -> None:
    parts = sorted(cursors)
    await conn.execute(
        "INSERT INTO change_cursors (partition, stream_ms, stream_seq)"
        " SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bigint[])"
        " ON CONFLICT (partition) DO UPDATE"
        " SET stream_ms = excluded.stream_ms, stream_seq = excluded.stream_seq",
        parts, [cursors[p][0] for p in parts], [cursors[p][1] for p in parts],
    )  # fmt: skip


async def journal_heads(conn: asyncpg.Connection, partitions: Sequence[int]) -> dict[int, StreamId]:
    """Each partition's newest journaled event ((0, 0) if none): where a new feed starts."""
    rows = await conn.fetch(
        "SELECT p, coalesce(h.stream_ms, 0) AS ms, coalesce(h.stream_seq, 0) AS seq"
        " FROM unnest($1::smallint[]) AS p LEFT JOIN LATERAL ("
        "   SELECT stream_ms, stream_seq FROM ledger_events WHERE partition = p"
        "   ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1) h ON true",
        list(partitions),
    )
    return {r["p"]: (r["ms"], r["seq"]) for r in rows}


async def feed_state(conn: asyncpg.Connection) -> tuple[str, int]:
    """The epoch the sequencer last saw and the last seq it appended (creating the row)."""
    await conn.execute("INSERT INTO change_feed DEFAULT VALUES ON CONFLICT DO NOTHING")
    row = await conn.fetchrow("SELECT epoch, last_seq FROM change_feed")
    assert row is not None
    return str(row["epoch"]), int(row["last_seq"])


async def save_feed_state(conn: asyncpg.Connection, epoch: str, last_seq: int) -> None:
    await conn.execute(
        "UPDATE change_feed SET epoch = $1, last_seq = $2, updated_at = now()", epoch, last_seq
    )
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, str(last_seq))


async def load_groups(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, frozenset[str]]:
    rows = await conn.fetch("SELECT group_name, location_id FROM location_group_members")
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(r["group_name"], set()).add(r["location_id"])
    return {name: frozenset(members) for name, members in groups.items()}


class LowStockThresholds:
    """(sku, location, group) -> threshold, from low_stock_thresholds, else the default."""

    def __init__(self, default: int = LOW_STOCK_THRESHOLD_DEFAULT) -> None:
        self.default = default
        self._set: dict[tuple[str, str, str], int] = {}

    async def load(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            "SELECT sku, location, location_group, threshold FROM low_stock_thresholds"
        )
        self._set = {(r["sku"], r["location"], r["location_group"]): r["threshold"] for r in rows}

    def __call__(self, sku: str, location: str, group: str) -> int:
        return self._set.get((sku, location, group), self.default)


async def read_changes(
    conn: asyncpg.Connection | asyncpg.Pool, after: int, upto: int | None, limit: int
) -> list[StoredChange]:
    rows = await conn.fetch(
        "SELECT seq, type, sku, location, location_group, channel, data FROM changes"
        " WHERE seq > $1 AND ($2::bigint IS NULL OR seq <= $2) ORDER BY seq LIMIT $3",
        after, upto, limit,
    )  # fmt: skip
    return [StoredChange(*r) for r in rows]


async def oldest_and_newest(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[int, int]:
    """The oldest retained seq and the newest (0, 0 while empty)."""
    row = await conn.fetchrow("SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM changes")
    assert row is not None
    return int(row[0]), int(row[1])


async def last_reset_after(conn: asyncpg.Connection | asyncpg.Pool, after: int) -> int | None:
    """The newest `reset` change after ``after``: a client resuming from before a rebuild
    skips to it."""
    value = await conn.fetchval(
        "SELECT max(seq) FROM changes WHERE type = 'reset' AND seq > $1", after
    )
    return None if value is None else int(value)


async def trim(conn: asyncpg.Connection | asyncpg.Pool, retention_s: float) -> int:
    status = await conn.execute(
        "DELETE FROM changes WHERE recorded_at < now() - make_interval(secs => $1)", retention_s
    )
    return int(status.split()[-1])
