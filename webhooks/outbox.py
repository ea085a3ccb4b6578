"""Recording deliveries owed: by the feed's fan-out (webhooks/fanout.py) and by callers that
publish an event of their own (alerts' ``alert.triggered``), in the caller's transaction."""

import time
from collections.abc import Iterable, Mapping, Sequence

import asyncpg
import msgspec

from durability.db import Conn
from webhooks import payload
from webhooks.matching import Subject, Subscription, matches

_SUBSCRIPTIONS = """
SELECT id, types, skus, locations, groups, start_seq FROM webhook_endpoints
WHERE enabled AND ($1::text IS NULL OR $1 = ANY(types))
ORDER BY id
"""
_MEMBERS = """
SELECT group_name, array_agg(location_id) AS members FROM location_group_members
WHERE group_name = ANY($1::text[]) GROUP BY group_name
"""
_INSERT = """
INSERT INTO webhook_deliveries
    (endpoint_id, webhook_id, type, sku, change_seq, payload, next_attempt_ms, since_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (endpoint_id, webhook_id) DO NOTHING
"""

# endpoint id, webhook id, type, sku, change seq (None: published), body, due at (ms)
DeliveryRow = tuple[str, str, str, str, int | None, str, int]


async def subscriptions(conn: Conn, event_type: str | None = None) -> list[Subscription]:
    """Enabled endpoints (subscribed to ``event_type``, if given)."""
    rows = await conn.fetch(_SUBSCRIPTIONS, event_type)
    return [
        Subscription(
            r["id"],
            frozenset(r["types"]),
            frozenset(r["skus"]),
            frozenset(r["locations"]),
            frozenset(r["groups"]),
            r["start_seq"],
        )
        for r in rows
    ]


async def group_members(conn: Conn, subs: Iterable[Subscription]) -> dict[str, frozenset[str]]:
    """The members of every group the subscriptions name, as the catalog has them now."""
    groups = sorted({g for s in subs for g in s.groups})
    if not groups:
        return {}
    rows = await conn.fetch(_MEMBERS, groups)
    return {r["group_name"]: frozenset(r["members"]) for r in rows}


async def insert(conn: Conn, rows: Sequence[DeliveryRow]) -> None:
    """In order: ids follow it, and the deliverer keeps each endpoint's SKU in id order."""
    if rows:
        await conn.executemany(_INSERT, rows)


def owed(
    subs: Iterable[Subscription], subject: Subject, members: Mapping[str, frozenset[str]]
) -> list[str]:
    return [s.endpoint_id for s in subs if matches(s, subject, members)]


async def publish(
    conn: asyncpg.Connection,
    event_type: str,
    data: dict[str, object],
    *,
    sku: str = "",
    location: str = "",
    group: str = "",
) -> int:
    """Records, in the caller's transaction, a delivery of ``event_type`` with ``data`` to
    every enabled endpoint subscribed to it whose filters match; returns how many."""
    subs = await subscriptions(conn, event_type)
    subject = Subject(event_type, sku, location, group)
    endpoints = owed(subs, subject, await group_members(conn, subs))
    now_ms = int(time.time() * 1000)
    text = payload.body(event_type, now_ms, msgspec.json.encode(data).decode())
    rows: list[DeliveryRow] = [
        (e, payload.published_webhook_id(), event_type, sku, None, text, now_ms) for e in endpoints
    ]
    await insert(conn, rows)
    return len(rows)
