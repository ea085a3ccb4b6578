"""Restoring what a register's replay depends on (atp/register_events.py) from the journal: each
device's log (``e:<event_id>`` -> record, ``s:<seq>`` -> event id) and each event's receipt
(st applied | voided, doh, os, vb), for the register events of the last RETENTION_S.

Every register event that register_apply.lua journals carries its device id, event id,
device_seq and body digest (a void also its target's digest): the digest holds the whole
body, so the log entry is rebuilt exactly. A claimed event that was never applied left no
event and is lost, which is harmless: its replay claims it again.
"""

import json
import time
from collections import defaultdict

import asyncpg

from atp.keys import device_log
from atp.keys import register_receipt as receipt
from atp.limits import RETENTION_S
from atp.register_events import log_record
from durability.bulk import BulkWriter
from durability.db import Conn

Receipt = dict[str, str | int]

_QUERY = """
SELECT type, sku, d_on_hand, on_hand, reserved, ts_ms,
       device_id, device_event, body_digest, target_digest
FROM ledger_events
WHERE device_id IS NOT NULL AND ts_ms >= $1
ORDER BY partition, stream_ms, stream_seq
"""


class _Restored:
    """Device logs and receipts as the journal's register events leave them."""

    def __init__(self) -> None:
        self.logs: dict[str, dict[str, str]] = defaultdict(dict)
        self.receipts: dict[str, Receipt] = {}
        self.touched_ms: dict[str, int] = {}  # key -> newest event that wrote it

    def _touch(self, key: str, ts_ms: int) -> None:
        self.touched_ms[key] = max(self.touched_ms.get(key, 0), ts_ms)

    def log(self, device: str, event_id: str, digest: str, ts_ms: int) -> str:
        """Records one event in its device's log; returns the event id it voids ('')."""
        seq, record, voids = log_record(digest)
        self.logs[device][f"e:{event_id}"] = json.dumps(record)
        self.logs[device][f"s:{seq}"] = event_id
        self._touch(device_log(device), ts_ms)
        return voids

    def receipt(self, key: str, fields: Receipt, ts_ms: int) -> None:
        self.receipts[key] = self.receipts.get(key, {}) | fields
        self._touch(key, ts_ms)

    def apply(self, row: asyncpg.Record) -> None:
        device, event_id, ts = str(row["device_id"]), str(row["device_event"]), int(row["ts_ms"])
        voids = self.log(device, event_id, str(row["body_digest"]), ts)
        sku = str(row["sku"])
        own = receipt(sku, device, event_id)
        if not voids:  # a sale or a return
            _, record, _ = log_record(str(row["body_digest"]))
            units = int(record["q"]) if record["k"] == "sale" else 0
            fields: Receipt = {"st": "applied", "doh": int(row["d_on_hand"])}
            self.receipt(own, fields | {"os": _oversold(row, units)}, ts)
            return
        if row["target_digest"]:
            self.log(device, voids, str(row["target_digest"]), ts)
        target = receipt(sku, device, voids)
        if row["type"] == "pos_voided_ahead":  # the target was never applied: never will be
            self.receipt(own, {"st": "applied", "doh": 0, "os": 0}, ts)
            self.receipt(target, {"st": "voided", "vb": event_id, "doh": 0, "os": 0}, ts)
            return
        undone = int(self.receipts.get(target, {}).get("doh", 0))  # voiding a return takes
        over = _oversold(row, undone if undone > 0 else 0)
        self.receipt(own, {"st": "applied", "doh": int(row["d_on_hand"]), "os": over}, ts)
        unknown: Receipt = {"doh": 0, "os": 0}  # the target's event is past retention
        self.receipt(target, unknown | self.receipts.get(target, {}), ts)
        self.receipt(target, {"st": "voided", "vb": event_id}, ts)


def _oversold(row: asyncpg.Record, units_taken: int) -> int:
    """Units a take oversold (register_apply.lua take): beyond on hand - reserved before it."""
    on_hand_before = int(row["on_hand"]) - int(row["d_on_hand"])
    sellable = max(0, on_hand_before - int(row["reserved"]))
    return max(0, units_taken - sellable)


def _ttl_s(now_ms: int, ts_ms: int) -> int:
    return min(RETENTION_S, max(1, RETENTION_S - (now_ms - ts_ms) // 1000))


async def load_registers(conn: Conn, pipe: BulkWriter) -> int:
    """Writes every device log and receipt of the last RETENTION_S; returns receipts."""
    now_ms = int(time.time() * 1000)
    restored = _Restored()
    for row in await conn.fetch(_QUERY, now_ms - RETENTION_S * 1000):
        restored.apply(row)
    for device, entries in restored.logs.items():
        key = device_log(device)
        await pipe.command("HSET", key, *[v for item in entries.items() for v in item])
        await pipe.command("EXPIRE", key, _ttl_s(now_ms, restored.touched_ms[key]))
    for key, fields in restored.receipts.items():
        await pipe.command("HSET", key, *[v for item in fields.items() for v in item])
        await pipe.command("EXPIRE", key, _ttl_s(now_ms, restored.touched_ms[key]))
    return len(restored.receipts)
