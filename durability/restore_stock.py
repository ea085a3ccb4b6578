"""Restoring stock writes' state from the journal: each position's incoming supply hash,
and the receipts of idempotent stock and supply writes within RETENTION_S (a retried write
answers duplicate after a rebuild, not a second application)."""

import json
import time
from collections import defaultdict
from collections.abc import Sequence

import asyncpg

from atp import digests, keys
from atp.limits import RETENTION_S
from atp.rules import SUPPLY_EVENTS, SupplyState, apply_supply_event
from durability.bulk import BulkWriter
from durability.db import Conn

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
