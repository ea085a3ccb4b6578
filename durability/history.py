"""A reservation as PostgreSQL knows it, finished ones included: the journal's answer
when Redis has no header (ended reservations are not rebuilt into Redis).

State, channel and deadline come from the ``reservations`` row (as the journal writer last
merged its header events); the lines are folded from the reservation's position events by
durability/restore_reservations.py ``fold_legs``, the same fold a rebuild restores live legs
with. A settle of a reservation Redis no longer has is answered from the same fold
(``settle_from_journal``), so its retry after a rebuild answers as it would have before.
"""

from collections.abc import Sequence

import asyncpg

from atp.model import Channel
from durability.db import Conn
from durability.limits import PENDING
from durability.restore_reservations import LEG_EVENTS, fold_legs, fold_op_receipts
from reservations.coordinator import Reservations
from reservations.layout import Header, LegState, as_dict, header_fields, leg_fields
from reservations.model import (
    Line,
    Reservation,
    State,
    TransitionOutcome,
    TransitionResult,
    derived_state,
)
from reservations.settle import decide_settle

_HEADER = "SELECT channel, state, expires_at_ms FROM reservations WHERE id = $1"
_ROW = (
    "SELECT channel, state, digest, expires_at_ms, created_ms, parts FROM reservations"
    " WHERE id = $1"
)


async def reservation_from_journal(
    conn_or_pool: Conn | asyncpg.Pool, rid: str
) -> Reservation | None:
    """The reservation ``rid`` rebuilt from the journal, or None when it never was journaled."""
    header = await conn_or_pool.fetchrow(_HEADER, rid)
    if header is None or header["state"] == PENDING:
        return None  # never journaled, or legs of an attempt whose header never was
    legs = fold_legs(await conn_or_pool.fetch(LEG_EVENTS, [rid]))
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


async def settle_from_journal(
    conn_or_pool: Conn | asyncpg.Pool,
    rid: str,
    action: str,
    lines: Sequence[Line] | None,
    op_id: str | None,
) -> TransitionOutcome | None:
    """What a fulfill or release (``action``: 'fulfilled', 'released') of ``rid`` answers
    once Redis no longer has it (a rebuild restores live reservations only): the engine's
    own decision (reservations/settle.py ``decide_settle``) on the header, legs and op
    receipts the journal folds to. A retry of a settle that ended it is a duplicate. None
    when the journal has nothing to answer with (never journaled, or still live)."""
    row = await conn_or_pool.fetchrow(_ROW, rid)
    if row is None or row["state"] == PENDING:
        return None
    events = await conn_or_pool.fetch(LEG_EVENTS, [rid])
    receipts = fold_op_receipts(events)
    digest, channel = str(row["digest"]), str(row["channel"])
    header = Header(
        str(row["state"]), digest, channel, int(row["expires_at_ms"]), int(row["created_ms"]),
        str(row["parts"]),
    )  # fmt: skip
    legs = {
        partition: as_dict(leg_fields(digest, LegState.closed.value, channel, leg))
        | receipts.get((leg_rid, partition), {})
        for (leg_rid, partition), leg in fold_legs(events).items()
    }
    header_map = as_dict(header_fields(header))
    refused, _, _ = decide_settle(rid, header_map, legs, action, lines, op_id or "")
    return refused


async def settle(
    service: Reservations,
    pool: asyncpg.Pool,
    rid: str,
    action: str,
    lines: Sequence[Line] | None = None,
    op_id: str | None = None,
) -> TransitionOutcome:
    """A fulfill or release (``action``: 'fulfilled', 'released') through the engine; one
    Redis no longer has (ended before a rebuild) is answered from the journal, as it would
    have been (``settle_from_journal``). Every caller settles through here: the API's
    routes and the order service's steps."""
    run = service.fulfill if action == "fulfilled" else service.release
    outcome = await run(rid, lines, op_id)
    if outcome.result is TransitionResult.not_found:
        ended = await settle_from_journal(pool, rid, action, lines, op_id)
        return outcome if ended is None else ended
    return outcome
