"""A position's history: its changes, newest first, with who made each, why, the reference
given with the write and the position after it. Read from PostgreSQL's journal (the system
of record: every acknowledged write is there; migrations/0006_actor.sql indexes it)."""

import datetime
from typing import Annotated

import asyncpg
from msgspec import Meta

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import invalid
from api.schemas import EVENT_ID_PATTERN, EventId, Response
from api.settings import LIST_LIMIT_MAX

HISTORY_LIMIT_DEFAULT = 50
_NEWEST = (2**63 - 1, 0)  # before every stream id: the first page

_QUERY = """
SELECT e.partition, e.stream_ms, e.stream_seq, e.type, e.ts_ms, e.actor, k.name AS by_name,
    e.reason, e.reference, e.reservation_id, e.d_on_hand, e.d_reserved, e.d_safety,
    e.d_incoming, e.on_hand, e.reserved, e.safety, e.incoming, e.atp_after
FROM ledger_events e LEFT JOIN api_keys k ON k.key_id = e.actor
WHERE e.sku = $1 AND e.location = $2 AND e.sku <> ''
    AND (e.stream_ms, e.stream_seq) < ($3, $4)
ORDER BY e.stream_ms DESC, e.stream_seq DESC
LIMIT $5
"""


class HistoryItem(Response, frozen=True):
    event_id: EventId
    type: Annotated[str, Meta(examples=["adjusted"])]
    at: datetime.datetime  # when the ledger applied it
    by: Annotated[
        str,
        Meta(
            description="who: the API key id of the request, system:sweeper (expiry), "
            "system:resourcer (re-sourcing), cli or import:<file> (atp commands); '' if "
            "unknown (events older than the journal's actor column)",
            examples=["3f9a1c2b7d4e"],
        ),
    ]
    by_name: str | None  # the key's name; null when `by` is not a key
    why: Annotated[str, Meta(description="the event's reason", examples=["receipt"])]
    reference: Annotated[
        str | None, Meta(description="the write's Atp-Reference header", examples=["PO-77"])
    ]
    reservation_id: str | None
    d_on_hand: int
    d_reserved: int
    d_safety: int
    d_incoming: int
    # The position after the change.
    on_hand: int
    reserved: int
    safety: int
    incoming: int
    atp: int  # online channel


class History(Response, frozen=True):
    sku: str
    location: str
    items: list[HistoryItem]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: EventId | None


def _before(raw: str | None) -> tuple[int, int]:
    if raw is None:
        return _NEWEST
    parts = raw.split("-")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts):
        raise invalid("before", "must be an event id partition-ms-seq, as an item gives it")
    return int(parts[1]), int(parts[2])


_NUMBERS = (
    "d_on_hand", "d_reserved", "d_safety", "d_incoming",
    "on_hand", "reserved", "safety", "incoming", "atp_after",
)  # fmt: skip


def _item(r: asyncpg.Record) -> HistoryItem:
    return HistoryItem(
        f"{r['partition']}-{r['stream_ms']}-{r['stream_seq']}",
        r["type"],
        datetime.datetime.fromtimestamp(r["ts_ms"] / 1000, datetime.UTC),
        r["actor"],
        r["by_name"],
        r["reason"],
        r["reference"] or None,
        r["reservation_id"] or None,
        *(r[f] for f in _NUMBERS),
    )


async def history(ctx: Ctx, _: None) -> Reply:
    sku, location = ctx.path("sku"), ctx.path("location")
    query = ctx.query()
    limit = params.integer(query, "limit", HISTORY_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX)
    ms, seq = _before(query.get("before"))
    async with ctx.services.pool.acquire() as conn:
        rows = await conn.fetch(_QUERY, sku, location, ms, seq, limit + 1)
    items = [_item(r) for r in rows[:limit]]
    more = len(rows) > limit
    return 200, History(sku, location, items, items[-1].event_id if more else None)


OPS = [
    Op(
        "GET",
        "/v1/stock/{sku}/{location}/history",
        "getStockHistory",
        "A position's changes, newest first: who, why, the reference and the position after",
        history,
        Scope.stock_write,
        {200: History},
        frozenset({401, 403, 422, 429}),
        params=(
            params.path_id("sku"),
            params.path_id("location"),
            Param(
                "limit",
                "query",
                {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX},
                f"items per page (default {HISTORY_LIMIT_DEFAULT})",
            ),
            Param(
                "before",
                "query",
                {"type": "string", "pattern": EVENT_ID_PATTERN},
                "an event id: only older changes (the previous page's next_before)",
            ),
        ),
        tag="stock",
        lane=lanes.path_location,
        description="From the journal in PostgreSQL: every acknowledged write is there. "
        "`by` is the acting key's id (`by_name` its name), or system:sweeper, "
        "system:resourcer, cli, import:<file>; `reference` the write's `Atp-Reference` "
        "header. A key bound to stores reads only their history (403 "
        "`location-not-allowed`).",
    ),
]
