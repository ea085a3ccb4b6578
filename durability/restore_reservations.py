"""Restoring live reservations from the journal: headers, legs (folded from their position
events, as the scripts changed them) with their op receipts, the committed index and the
expiry entries. The same fold gives the journal's view of any reservation's lines
(durability/history.py, durability/verify.py).

Orphan legs too: units a hold attempt reserved whose header never reached the journal (on
a cluster the legs and the header are separate scripts, and the master of the header can
die between them). No such attempt was acknowledged, yet its units are in the positions
journaled; they are restored as legs and then rolled back (``roll_back_orphans``) as the
coordinator would have, so a retry of the same hold reserves once."""

from collections import defaultdict
from collections.abc import Iterable

import asyncpg
from msgspec.structs import replace

from atp import keys
from atp.limits import LEG_EXPIRY_GRACE_MS, RESERVATION_TTL_S_MAX
from atp.redis_io import RedisIO
from durability.bulk import BulkWriter
from durability.db import Conn
from durability.limits import PENDING
from reservations import calls
from reservations.layout import LEG, Header, LegState, header_fields, leg_fields, op_receipt
from reservations.model import LineStatus

Orphan = tuple[str, int, list[LineStatus]]  # (reservation id, partition, its leg's lines)

_RID_CHUNK = 5_000
Row = asyncpg.Record
Legs = dict[tuple[str, int], list[LineStatus]]  # (reservation id, partition) -> its lines
# The position events of some reservations ($1: their ids), in stream order: what
# ``fold_legs`` and ``fold_op_receipts`` read, for a rebuild, verify and the journal's
# answers (durability/history.py).
LEG_EVENTS = (
    "SELECT partition, type, sku, location, d_reserved, reservation_id, op_id, op_digest"
    " FROM ledger_events WHERE reservation_id = ANY($1::text[]) AND sku <> ''"
    " ORDER BY partition, stream_ms, stream_seq"
)


def fold_legs(rows: Iterable[Row]) -> Legs:
    """Per (reservation id, partition), the leg's lines in order, from its position events."""
    legs: Legs = {}
    for row in rows:
        key = (str(row["reservation_id"]), int(row["partition"]))
        kind, step = str(row["type"]), int(row["d_reserved"])
        if kind == "rolled_back":  # the leg was deleted: an attempt that failed elsewhere
            legs.pop(key, None)
            continue
        lines = legs.setdefault(key, [])
        at = (str(row["sku"]), str(row["location"]))
        i = next((i for i, ln in enumerate(lines) if (ln.sku, ln.location) == at), None)
        if kind == "reserved" or (kind == "reservation_moved" and i is None):
            # leg_move.lua appends a line for a location the leg did not have yet
            lines.append(LineStatus(at[0], at[1], abs(step), abs(step)))
        elif i is not None:  # else its reserved event was never journaled: nothing to restore
            lines[i] = _after(lines[i], kind, step)
    return legs


def _after(line: LineStatus, kind: str, step: int) -> LineStatus:
    """A line after one more of its events (``step``: the event's reserved delta)."""
    if kind == "reservation_moved":  # units leave one line (drs < 0) for another (> 0)
        return replace(line, qty=line.qty + step, open=line.open + step)
    moved = abs(step)
    if kind == "fulfilled":
        return replace(line, open=line.open - moved, fulfilled=line.fulfilled + moved)
    if kind == "released":
        return replace(line, open=line.open - moved, released=line.released + moved)
    if kind == "expired":
        return replace(line, open=line.open - moved, expired=line.expired + moved)
    return replace(line, open=line.open - moved)


OpReceipts = dict[tuple[str, int], dict[str, str]]


def fold_op_receipts(rows: Iterable[Row]) -> OpReceipts:
    """Per (reservation id, partition), the leg's op receipts (op:<op_id> -> request
    digest, as leg_settle.lua writes them) from its fulfilled and released events."""
    found: OpReceipts = defaultdict(dict)
    for row in rows:
        if row["op_digest"] and row["type"] in ("fulfilled", "released"):
            key = (str(row["reservation_id"]), int(row["partition"]))
            found[key][op_receipt(str(row["op_id"]))] = str(row["op_digest"])
    return found


async def _restore_op_receipts(
    rid: str, legs: dict[int, list[LineStatus]], receipts: OpReceipts, pipe: BulkWriter
) -> None:
    """A retried partial fulfill or release answers duplicate, not a second settle."""
    for partition in legs:
        held = receipts.get((rid, partition))
        if held:
            flat = [v for item in held.items() for v in item]
            await pipe.command("HSET", keys.leg(partition, rid), *flat)


# (expiry index key, deadline ms, member): added only after the epoch is set, so a sweeper
# cannot expire a restored hold (writing stream entries) while the rebuild is still running.
ExpiryEntry = tuple[str, int, str]


async def load_reservations(conn: Conn, pipe: BulkWriter, later: list[ExpiryEntry]) -> int:
    headers = await conn.fetch(
        "SELECT id, channel, state, digest, expires_at_ms, created_ms, parts FROM reservations"
        " WHERE state IN ('held', 'committed')"
    )
    for start in range(0, len(headers), _RID_CHUNK):
        chunk = headers[start : start + _RID_CHUNK]
        events = await conn.fetch(LEG_EVENTS, [h["id"] for h in chunk])
        legs = fold_legs(events)
        receipts = fold_op_receipts(events)
        committed_ms = await _commit_times(conn, [h["id"] for h in chunk])
        by_rid: dict[str, dict[int, list[LineStatus]]] = defaultdict(dict)
        for (rid, partition), lines in legs.items():
            if lines:
                by_rid[rid][partition] = lines
        for h in chunk:
            await _restore_one(h, by_rid.get(h["id"], {}), pipe, later)
            await _restore_op_receipts(h["id"], by_rid.get(h["id"], {}), receipts, pipe)
            if h["state"] == "committed":
                ct = committed_ms.get(h["id"], int(h["created_ms"]))
                await _restore_committed_index(h["id"], ct, by_rid.get(h["id"], {}), pipe)
    return len(headers)


async def _commit_times(conn: Conn, rids: list[str]) -> dict[str, int]:
    """When each reservation committed (its header event): the committed index's order."""
    rows = await conn.fetch(
        "SELECT reservation_id, min(ts_ms) AS ts FROM ledger_events"
        " WHERE type = 'reservation_committed' AND reservation_id = ANY($1::text[])"
        " GROUP BY reservation_id",
        rids,
    )
    return {str(r["reservation_id"]): int(r["ts"]) for r in rows}


async def _restore_committed_index(
    rid: str, committed_ms: int, legs: dict[int, list[LineStatus]], pipe: BulkWriter
) -> None:
    """The commit time on each leg and its open lines in the committed index (as
    reservations/lua/_prelude.lua index_sync keeps them), so re-sourcing finds them."""
    for partition, lines in legs.items():
        await pipe.command("HSET", keys.leg(partition, rid), LEG.committed_ms, committed_ms)
        for ln in lines:
            if ln.open > 0:
                member = f"{ln.location}|{ln.sku}|{committed_ms:015d}|{rid}"
                await pipe.command("ZADD", keys.committed_index(partition), 0, member)


async def _restore_one(
    row: Row, legs: dict[int, list[LineStatus]], pipe: BulkWriter, later: list[ExpiryEntry]
) -> None:
    rid, state, exp = str(row["id"]), str(row["state"]), int(row["expires_at_ms"])
    digest, channel = str(row["digest"]), str(row["channel"])
    parts = str(row["parts"]) or ",".join(str(p) for p in sorted(legs))
    header = Header(state, digest, channel, exp, int(row["created_ms"]), parts)
    await pipe.command("HSET", keys.header(rid), *header_fields(header))
    if state == "held":
        home = keys.partition_of_reservation(rid)
        later.append((keys.expiry_index(home), exp, f"h:{rid}"))
    for partition, lines in legs.items():
        # a live header's leg follows it (held or committed) until no unit of it is open
        leg_state = state if any(ln.open for ln in lines) else LegState.closed.value
        fields = leg_fields(digest, leg_state, channel, lines)
        await pipe.command("HSET", keys.leg(partition, rid), *fields)
        if leg_state == LegState.held:
            deadline = exp + LEG_EXPIRY_GRACE_MS
            later.append((keys.expiry_index(partition), deadline, f"l:{rid}"))


async def load_orphans(conn: Conn, pipe: BulkWriter, now_ms: int) -> list[Orphan]:
    """Restores every leg with open units of a ``pending`` reservation (legs journaled,
    header not) as a held leg, for ``roll_back_orphans``. Only rows young enough to hold a
    leg still (``ORPHAN_WINDOW_MS``) are looked at."""
    cutoff = now_ms - ORPHAN_WINDOW_MS
    rids = [r["id"] for r in await conn.fetch(_PENDING, PENDING, cutoff)]
    orphans: list[Orphan] = []
    for start in range(0, len(rids), _RID_CHUNK):
        events = await conn.fetch(LEG_EVENTS, rids[start : start + _RID_CHUNK])
        for (rid, partition), lines in fold_legs(events).items():
            if any(ln.open for ln in lines):
                orphans.append((rid, partition, lines))
                # No digest: nobody retries into it before it is rolled back.
                fields = leg_fields("", LegState.held.value, "", lines)
                await pipe.command("HSET", keys.leg(partition, rid), *fields)
    return orphans


async def forget_resolved(conn: Conn, orphans: list[Orphan]) -> None:
    """Drops every ``pending`` row but the orphans' (theirs stay open until their rollback
    is journaled): the rest have no open leg, by ``load_orphans``'s look or by age (on a
    cluster every hold refused after a leg was held leaves one), so the rows stay few."""
    await conn.execute(_FORGET, PENDING, sorted({rid for rid, _, _ in orphans}))


async def roll_back_orphans(redis: RedisIO, orphans: list[Orphan]) -> None:
    """Each orphan leg's open units returned and the leg deleted (``rolled_back`` events,
    journaled as any other), so the same id may be tried again."""
    for rid, partition, lines in orphans:
        positions = [(ln.sku, ln.location) for ln in lines]
        await calls.leg_expire(redis, rid, partition, positions, "rolled_back", 0)


# A leg's deadline is its hold's TTL (at most RESERVATION_TTL_S_MAX) and a grace after its
# events; past that the sweeper expired it, or a rebuild rolled it back.
ORPHAN_WINDOW_MS = RESERVATION_TTL_S_MAX * 1000 + 2 * LEG_EXPIRY_GRACE_MS
_PENDING = "SELECT id FROM reservations WHERE state = $1 AND updated_ms >= $2"
# Under the rebuild lock no batch is journaled, so no row turns pending meanwhile.
_FORGET = "DELETE FROM reservations WHERE state = $1 AND NOT id = ANY($2::text[])"
