"""A reservation as PostgreSQL knows it, finished ones included: the journal's answer
when Redis has no header (ended reservations are not rebuilt into Redis).

State, channel and deadline come from the ``reservations`` row (as the journal writer last
merged its header events); the lines are folded from the reservation's position events by
durability/restore_reservations.py ``fold_legs``, the same fold a rebuild restores live legs
with.
"""

import asyncpg

from atp.model import Channel
from durability.db import Conn
from durability.limits import PENDING
from durability.restore_reservations import fold_legs
from reservations.model import Reservation, State, derived_state

_HEADER = "SELECT channel, state, expires_at_ms FROM reservations WHERE id = $1"
_EVENTS = (
    "SELECT partition, type, sku, location, d_reserved, reservation_id FROM ledger_events"
    " WHERE reservation_id = $1 AND sku <> '' ORDER BY partition, stream_ms, stream_seq"
)


async def reservation_from_journal(
    conn_or_pool: Conn | asyncpg.Pool, rid: str
) -> Reservation | None:
    """The reservation ``rid`` rebuilt from the journal, or None when it never was journaled."""
    header = await conn_or_pool.fetchrow(_HEADER, rid)
    if header is None or header["state"] == PENDING:
        return None  # never journaled, or legs of an attempt whose header never was
    legs = fold_legs(await conn_or_pool.fetch(_EVENTS, rid))
    lines = sorted(
        (ln for lines in legs.values() for ln in lines), key=lambda ln: (ln.sku, ln.location)
    )
    state = State(header["state"])
    channel = str(header["channel"])
    return Reservation(
        id=rid,
        channel=Channel(channel) if channel else Channel.online,
        state=derived_state(state, lines),
        expires_at_ms=int(header["expires_at_ms"]) if state is State.held else None,
        lines=lines,
    )
