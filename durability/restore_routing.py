"""Restoring what routing and the catalog keep in the ledger (durability/rebuild.py): the
location groups, allocations' route records within RETENTION_S, and re-sourcing's attention
items still open."""

import json
import time

from atp import keys
from atp.limits import RETENTION_S
from durability.bulk import BulkWriter
from durability.db import Conn


async def load_attention(conn: Conn, pipe: BulkWriter) -> None:
    """Attention items (routing/resourcing.py) flagged and not resolved since."""
    rows = await conn.fetch(
        "SELECT type, sku, location, reservation_id, reason, ts_ms FROM ledger_events"
        " WHERE type IN ('reservation_flagged', 'reservation_flag_resolved')"
        " ORDER BY partition, stream_ms, stream_seq"
    )
    items: dict[tuple[str, str, str], str] = {}
    for r in rows:
        key = (str(r["location"]), str(r["sku"]), str(r["reservation_id"]))
        if r["type"] == "reservation_flag_resolved":
            items.pop(key, None)
            continue
        units, _, why = str(r["reason"]).partition(":")  # "<units>:<why>"
        item = {"rid": key[2], "sku": key[1], "loc": key[0], "units": int(units), "why": why}
        items[key] = json.dumps(item | {"ts": int(r["ts_ms"])})
    for (location, sku, rid), value in items.items():
        field = f"{location}|{sku}|{rid}"
        await pipe.command("HSET", keys.attention(keys.partition_of_sku(sku)), field, value)


async def load_groups(conn: Conn, pipe: BulkWriter) -> None:
    """The catalog's memberships, then each group's newest `group_defined` event (what
    define_group last set; the importer defines every group it changes, after the table),
    which replaces the group's set."""
    rows = await conn.fetch("SELECT group_name, location_id FROM location_group_members")
    for r in rows:
        await pipe.command("SADD", keys.group(r["group_name"]), r["location_id"])
    defined = await conn.fetch(
        "SELECT DISTINCT ON (split_part(reason, ':', 1)) reason FROM ledger_events"
        " WHERE type = 'group_defined'"
        " ORDER BY split_part(reason, ':', 1), stream_ms DESC, stream_seq DESC"
    )
    for r in defined:
        name, _, members = str(r["reason"]).partition(":")  # "<name>:<m1>,<m2>,..."
        await pipe.command("DEL", keys.group(name))
        await pipe.command("SADD", keys.group(name), *members.split(","))


async def load_routes(conn: Conn, pipe: BulkWriter) -> int:
    """Route records of allocations (routing/live.py) within RETENTION_S: re-sourcing
    plans a moved line by the order's method."""
    now_ms = int(time.time() * 1000)
    rows = await conn.fetch(
        "SELECT DISTINCT ON (reservation_id) reservation_id, reason, ts_ms FROM ledger_events"
        " WHERE type = 'reservation_routed' AND ts_ms >= $1"
        " ORDER BY reservation_id, stream_ms DESC, stream_seq DESC",
        now_ms - RETENTION_S * 1000,
    )
    for r in rows:
        ttl_s = min(RETENTION_S, max(1, RETENTION_S - (now_ms - int(r["ts_ms"])) // 1000))
        await pipe.command("SET", keys.route(r["reservation_id"]), r["reason"], "EX", ttl_s)
    return len(rows)
