"""The changes feed's rows written by hand, as its single writer (changes/) would: they are
plain rows, so the webhook fan-out is tested on its own. And endpoints on a test receiver."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from support.webhook_receiver import Receiver
from webhooks.endpoints import Filters, register


async def endpoint(
    pool: asyncpg.Pool, receiver: Receiver, path: str = "/hook", **filters: Any
) -> str:
    """An endpoint on the receiver (loopback: allowed as in development)."""
    filters.setdefault("types", ["availability_changed"])
    async with pool.acquire() as conn:
        found, secret = await register(conn, receiver.url(path), Filters(**filters), True)
    receiver.secrets[path] = secret
    return found.id


async def add_changes(pool: asyncpg.Pool, *changes: dict[str, Any]) -> list[int]:
    """Appends rows to the feed as its single writer would: seq after the last one."""
    seqs = []
    for change in changes:
        seq = await pool.fetchval("SELECT COALESCE(max(seq), 0) + 1 FROM changes")
        kind = change.get("type", "availability_changed")
        sku, location = change.get("sku", "SKU-1"), change.get("location", "OSLO-1")
        data = {"sku": sku, "location": location, "channel": "online", **change.get("data", {})}
        await pool.execute(
            "INSERT INTO changes (seq, type, sku, location, location_group, channel, data, ts_ms)"
            " VALUES ($1, $2, $3, $4, $5, 'online', $6, $7)",
            seq,
            kind,
            sku,
            location,
            change.get("group", ""),
            msgspec.json.encode(data).decode(),
            int(time.time() * 1000),
        )
        seqs.append(seq)
    return seqs


async def deliveries(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM webhook_deliveries ORDER BY id")
    return [dict(r) for r in rows]


async def until(condition: Callable[[], Awaitable[bool]], step_s: float = 0.01) -> None:
    """Polls ``condition`` (another process's progress has no event to wait on); the
    test's own timeout bounds it."""
    while True:
        if await condition():
            return
        await asyncio.sleep(step_s)
