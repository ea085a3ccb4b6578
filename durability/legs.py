"""Folding journaled events back into the Redis structures a rebuild restores: incoming
supply hashes, live reservations (headers, legs with their op receipts, expiry entries)
and stock op receipts."""

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

import asyncpg
import msgspec

from atp import digests, keys
from atp.limits import LEG_EXPIRY_GRACE_MS, RETENTION_S
from atp.rules import SUPPLY_EVENTS, SupplyState, apply_supply_event
from durability.bulk import BulkWriter
from durability.db import Conn

_RID_CHUNK = 5_000
Row = asyncpg.Record


async def load_incoming(conn: Conn, pipe: BulkWriter) -> int:
    """Each position's supply hash, folded from its supply events in stream order (added,
    received in part or whole, cancelled, re-dated, removed) as the scripts changed it."""
    rows = await conn.fetch(
        "SELECT sku, location, type, reason, d_incoming FROM ledger_events"
        " WHERE type = ANY($1::text[])"
        " ORDER BY partition, stream_ms, stream_seq",
        list(SUPPLY_EVENTS),
    )
    supplies: dict[tuple[str, str], SupplyState] = defaultdict(dict)
    for r in rows:
        held = supplies[(r["sku"], r["location"])]
        apply_supply_event(held, str(r["type"]), str(r["reason"]), int(r["d_incoming"]))
    count = 0
    for (sku, location), held in supplies.items():
        if held:
            flat = [v for sid, (qty, day) in held.items() for v in (sid, f"{qty}|{day}")]
            await pipe.command("HSET", keys.incoming(sku, location), *flat)
            count += len(held)
    return count


class _Line(msgspec.Struct):
    sku: str
    location: str
    qty: int = 0
    open: int = 0
    fulfilled: int = 0
    released: int = 0
    expired: int = 0


def fold_legs(rows: Iterable[Row]) -> dict[tuple[str, int], list[_Line]]:
    """Per (reservation id, partition), the leg's lines in order, from its position events."""
    legs: dict[tuple[str, int], list[_Line]] = {}
    for row in rows:
        key = (str(row["reservation_id"]), int(row["partition"]))
        kind, moved = str(row["type"]), abs(int(row["d_reserved"]))
        if kind == "rolled_back":  # the leg was deleted: an attempt that failed elsewhere
            legs.pop(key, None)
            continue
        lines = legs.setdefault(key, [])
        line = next(
            (ln for ln in lines if (ln.sku, ln.location) == (row["sku"], row["location"])), None
        )
        if kind == "reserved" or (kind == "reservation_moved" and line is None):
            # leg_move.lua appends a line for a location the leg did not have yet
            lines.append(_Line(str(row["sku"]), str(row["location"]), moved, moved))
            continue
        if line is None:
            continue  # its reserved event was never journaled: nothing left to restore
        if kind == "reservation_moved":  # units leave one line (drs < 0) for another (> 0)
            step = int(row["d_reserved"])
            line.qty += step
            line.open += step
            continue
        line.open -= moved
        if kind == "fulfilled":
            line.fulfilled += moved
        elif kind == "released":
            line.released += moved
        elif kind == "expired":
            line.expired += moved
    return legs


OpReceipts = dict[tuple[str, int], dict[str, str]]


def fold_op_receipts(rows: Iterable[Row]) -> OpReceipts:
    """Per (reservation id, partition), the leg's op receipts (op:<op_id> -> request
    digest, as leg_settle.lua writes them) from its fulfilled and released events."""
    found: OpReceipts = defaultdict(dict)
    for row in rows:
        if row["op_digest"] and row["type"] in ("fulfilled", "released"):
            key = (str(row["reservation_id"]), int(row["partition"]))
            found[key][f"op:{row['op_id']}"] = str(row["op_digest"])
    return found


async def _restore_op_receipts(
    rid: str, legs: dict[int, list[_Line]], receipts: OpReceipts, pipe: BulkWriter
) -> None:
    """A retried partial fulfill or release answers duplicate, not a second settle."""
    for partition in legs:
        held = receipts.get((rid, partition))
        if held:
            flat = [v for item in held.items() for v in item]
            await pipe.command("HSET", keys.leg(partition, rid), *flat)


def _leg_fields(rid: str, digest: str, state: str, channel: str, lines: list[_Line]) -> list[str]:
    fields = ["rid", rid, "d", digest, "st", state, "ch", channel, "n", str(len(lines))]
    for i, ln in enumerate(lines, start=1):
        fields += [f"s{i}", ln.sku, f"l{i}", ln.location, f"q{i}", str(ln.qty)]
        fields += [f"o{i}", str(ln.open), f"f{i}", str(ln.fulfilled)]
        fields += [f"r{i}", str(ln.released), f"x{i}", str(ln.expired)]
    return fields


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
        events = await conn.fetch(
            "SELECT partition, type, sku, location, d_reserved, reservation_id, op_id,"
            " op_digest FROM ledger_events"
            " WHERE reservation_id = ANY($1::text[]) AND sku <> ''"
            " ORDER BY partition, stream_ms, stream_seq",
            [h["id"] for h in chunk],
        )
        legs = fold_legs(events)
        receipts = fold_op_receipts(events)
        committed_ms = await _commit_times(conn, [h["id"] for h in chunk])
        by_rid: dict[str, dict[int, list[_Line]]] = defaultdict(dict)
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
    rid: str, committed_ms: int, legs: dict[int, list[_Line]], pipe: BulkWriter
) -> None:
    """The commit time on each leg and its open lines in the committed index (as
    reservations/lua/_prelude.lua index_sync keeps them), so re-sourcing finds them."""
    for partition, lines in legs.items():
        await pipe.command("HSET", keys.leg(partition, rid), "ct", committed_ms)
        for ln in lines:
            if ln.open > 0:
                member = f"{ln.location}|{ln.sku}|{committed_ms:015d}|{rid}"
                await pipe.command("ZADD", keys.committed_index(partition), 0, member)


async def _restore_one(
    row: Row, legs: dict[int, list[_Line]], pipe: BulkWriter, later: list[ExpiryEntry]
) -> None:
    rid, state, exp = str(row["id"]), str(row["state"]), int(row["expires_at_ms"])
    digest, channel = str(row["digest"]), str(row["channel"])
    parts = str(row["parts"]) or ",".join(str(p) for p in sorted(legs))
    home = keys.partition_of_reservation(rid)
    await pipe.command(
        "HSET", keys.header(rid), "st", state, "d", digest, "ch", channel, "exp", exp,
        "ts", int(row["created_ms"]), "parts", parts,
    )  # fmt: skip
    if state == "held":
        later.append((keys.expiry_index(home), exp, f"h:{rid}"))
    for partition, lines in legs.items():
        open_units = sum(ln.open for ln in lines)
        leg_state = state if open_units else "closed"
        await pipe.command(
            "HSET", keys.leg(partition, rid), *_leg_fields(rid, digest, leg_state, channel, lines)
        )
        if leg_state == "held":
            deadline = exp + LEG_EXPIRY_GRACE_MS
            later.append((keys.expiry_index(partition), deadline, f"l:{rid}"))


def _receipt_digest(kind: str, row: Row) -> str:
    sku, loc, why = str(row["sku"]), str(row["location"]), str(row["reason"])
    if kind == "incoming_received":  # the explicit-qty form: a retry naming no qty conflicts
        supply_id, _, reason = why.partition(":")
        return digests.receive(sku, loc, supply_id, int(row["d_on_hand"]), reason)
    if kind == "incoming_cancelled":
        return digests.cancel(sku, loc, why)
    if kind == "incoming_redated":
        supply_id, _, day = why.rpartition("@")
        return digests.redate(sku, loc, supply_id, day)
    if kind == "adjusted":
        return digests.adjust(sku, loc, int(row["d_on_hand"]), why)
    if kind == "safety_set":
        return digests.safety(sku, loc, int(row["safety"]))
    # A count's digest names its expected on hand, which the event does not carry: restore
    # the unconditional form; a retried conditional count then answers op_conflict.
    return digests.count(sku, loc, int(row["on_hand"]), "", why)


async def load_receipts(conn: Conn, pipe: BulkWriter) -> int:
    """Receipts of idempotent stock writes still within RETENTION_S, so a client retrying
    an acknowledged write after a rebuild gets 'duplicate', not a second application."""
    now_ms = int(time.time() * 1000)
    since = now_ms - RETENTION_S * 1000
    rows = await conn.fetch(
        "SELECT * FROM ledger_events WHERE op_id <> ''"
        " AND type IN ('adjusted', 'counted', 'safety_set') AND ts_ms >= $1",
        since,
    )
    supply_rows = await conn.fetch(
        "SELECT * FROM ledger_events WHERE op_id <> '' AND type = ANY($2::text[])"
        " AND ts_ms >= $1 ORDER BY partition, stream_ms, stream_seq",
        since,
        list(SUPPLY_OPS),
    )
    remaining = await _remaining_after(conn, supply_rows)
    for row in [*rows, *supply_rows]:
        reply: list[object] = ["applied", f"{row['stream_ms']}-{row['stream_seq']}"]
        reply += [row["on_hand"], row["reserved"], row["safety"], row["incoming"]]
        kind = str(row["type"])
        if kind in SUPPLY_OPS:
            reply += _supply_reply(kind, row, remaining.get(_event_id(row), 0))
        key = keys.operation(int(row["partition"]), str(row["op_id"]))
        ttl_s = max(1, RETENTION_S - (now_ms - int(row["ts_ms"])) // 1000)
        await pipe.command("HSET", key, "d", _receipt_digest(kind, row), "r", json.dumps(reply))
        await pipe.command("EXPIRE", key, ttl_s)
    return len(rows) + len(supply_rows)


# Supply writes with an op id (atp/stock.py): their receipts carry (received, retired,
# remaining) after the position, as the scripts' replies do.
SUPPLY_OPS = ("incoming_received", "incoming_cancelled", "incoming_redated")


def _event_id(row: Row) -> tuple[int, int, int]:
    return int(row["partition"]), int(row["stream_ms"]), int(row["stream_seq"])


def _supply_of(kind: str, why: str) -> str:
    if kind == "incoming_received":
        return why.partition(":")[0]
    return why.rpartition("@")[0] if kind in ("incoming_added", "incoming_redated") else why


def _supply_reply(kind: str, row: Row, remaining: int) -> list[object]:
    if kind == "incoming_received":
        return [row["d_on_hand"], -int(row["d_incoming"]), remaining]
    if kind == "incoming_cancelled":
        return [0, -int(row["d_incoming"]), 0]
    return [0, 0, remaining]  # re-dated: the qty it still expects


async def _remaining_after(conn: Conn, rows: Sequence[Row]) -> dict[tuple[int, int, int], int]:
    """What each receipted supply still expected right after its event: the position's
    supply events folded in stream order (atp.rules.apply_supply_event, as a rebuild does)."""
    wanted = {(str(r["sku"]), str(r["location"])) for r in rows}
    if not wanted:
        return {}
    events = await conn.fetch(
        "SELECT partition, stream_ms, stream_seq, sku, location, type, reason, d_incoming"
        " FROM ledger_events WHERE type = ANY($1::text[])"
        " AND (sku, location) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
        " ORDER BY partition, stream_ms, stream_seq",
        list(SUPPLY_EVENTS),
        [sku for sku, _ in wanted],
        [loc for _, loc in wanted],
    )
    state: dict[tuple[str, str], SupplyState] = defaultdict(dict)
    found = {}
    for e in events:
        supplies = state[(str(e["sku"]), str(e["location"]))]
        kind, why = str(e["type"]), str(e["reason"])
        apply_supply_event(supplies, kind, why, int(e["d_incoming"]))
        found[_event_id(e)] = supplies.get(_supply_of(kind, why), (0, 0))[0]
    return found
