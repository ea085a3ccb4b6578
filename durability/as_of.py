"""Positions as they stood at an instant, read from the journal in PostgreSQL (every
acknowledged write is there), and how each came to be (durability/as_of_rules.py folds it).

An event belongs to the instant when its time (``ts_ms``, the script's clock) is at or
before it; one SKU's events share a partition, so stream order is their order.
"""

from collections.abc import Sequence

import asyncpg

from atp.model import Event, Position
from durability.as_of_rules import Derivation, derive
from durability.db import Queryable

# The newest event of each position at or before the instant.
_POSITIONS = """
SELECT DISTINCT ON (location) location, on_hand, reserved, safety, incoming
FROM ledger_events
WHERE sku = $1 AND sku <> '' AND location = ANY($2::text[]) AND ts_ms <= $3
ORDER BY location, stream_ms DESC, stream_seq DESC
"""
_FIRST = "SELECT min(ts_ms) FROM ledger_events WHERE sku = $1 AND sku <> '' AND location = $2"
_EVENTS = """
SELECT partition, stream_ms, stream_seq, type, sku, location, d_on_hand, d_reserved,
    d_safety, d_incoming, on_hand, reserved, safety, incoming, reason, reservation_id, ts_ms
FROM ledger_events
WHERE sku = $1 AND sku <> '' AND location = $2 AND ts_ms <= $3
ORDER BY stream_ms, stream_seq
"""


class NotJournaled(Exception):
    """The journal holds no event of the position at or before the instant."""

    def __init__(self, sku: str, location: str, first_ms: int | None) -> None:
        super().__init__(f"no event of {sku} at {location}")
        self.sku = sku
        self.location = location
        self.first_ms = first_ms  # its first event's time; None when it has none


async def positions_at(
    db: Queryable, sku: str, locations: Sequence[str], at_ms: int
) -> list[Position]:
    """Each location's position of ``sku`` at ``at_ms``, in the order asked. Raises
    NotJournaled for the first location the journal knows nothing of by then."""
    rows = await db.fetch(_POSITIONS, sku, list(locations), at_ms)
    found = {str(r["location"]): r for r in rows}
    out = []
    for location in locations:
        r = found.get(location)
        if r is None:
            raise NotJournaled(sku, location, await db.fetchval(_FIRST, sku, location))
        out.append(Position(sku, location, r["on_hand"], r["reserved"], r["safety"], r["incoming"]))
    return out


def _event(r: asyncpg.Record) -> Event:
    return Event(
        id=f"{r['partition']}-{r['stream_ms']}-{r['stream_seq']}",
        type=r["type"],
        sku=r["sku"],
        location=r["location"],
        d_on_hand=r["d_on_hand"],
        d_reserved=r["d_reserved"],
        d_safety=r["d_safety"],
        d_incoming=r["d_incoming"],
        on_hand=r["on_hand"],
        reserved=r["reserved"],
        safety=r["safety"],
        incoming=r["incoming"],
        reason=r["reason"],
        reservation_id=r["reservation_id"],
        ts_ms=r["ts_ms"],
    )


async def explain_at(db: Queryable, sku: str, location: str, at_ms: int) -> Derivation:
    """The position of ``sku`` at ``location`` at ``at_ms`` and its derivation: the
    reservations holding its reserved units, the supplies making up incoming, the event
    that set safety, the last count and the changes of on hand after it (each with event
    ids). Raises NotJournaled when the journal holds no event of it by then.

    Support's lookup calls it as ``await explain_at(pool, sku, location, at_ms)``."""
    events = [_event(r) for r in await db.fetch(_EVENTS, sku, location, at_ms)]
    derived = derive(events)
    if derived is None:
        raise NotJournaled(sku, location, await db.fetchval(_FIRST, sku, location))
    return derived
