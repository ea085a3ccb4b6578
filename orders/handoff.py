"""Cart handoff: a held online reservation gets a short code (orders/handoff_code.py), and a
register at the held store completes it there by code as a store sale.

Completing is the crash-safe pattern of migrations/0011_orders.sql: the code's row is
marked begun (``pending_since``), the ledger steps run under an op id derived from the code
(commit, then fulfill; each idempotent), and only then is the row marked completed, so
``resume_stale`` can finish a completion whose process died between the steps.
"""

import datetime
from collections.abc import Callable

import asyncpg
import msgspec

from atp.clock import instant_ms
from durability.db import Queryable
from durability.group_commit import Durability, acknowledged
from durability.history import reservation_from_journal
from engine.protocol import LedgerEngine
from orders.handoff_code import (
    CODE_ATTEMPTS_MAX,
    CodeState,
    HandoffResult,
    code_state,
    generate,
    locations_of,
    normalise,
    refuse_new,
)
from reservations.model import Reservation, State, TransitionResult

RESUME_BATCH_MAX = 100  # completions one sweep finishes (one row, one transaction each)

_COLUMNS = (
    "code, reservation_id, location, created_by, created_at, expires_at, pending_since,"
    " completed_at, completed_by"
)
_BY_CODE = f"SELECT {_COLUMNS} FROM handoff_codes WHERE code = $1"
_BY_RESERVATION = f"SELECT {_COLUMNS} FROM handoff_codes WHERE reservation_id = $1"
_INSERT = f"""
INSERT INTO handoff_codes (code, reservation_id, location, created_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}
"""
_BEGIN = f"""
UPDATE handoff_codes SET pending_since = now(), completed_by = $2
WHERE code = $1 AND completed_at IS NULL RETURNING {_COLUMNS}
"""
_DONE = f"""
UPDATE handoff_codes SET completed_at = $2, pending_since = NULL
WHERE code = $1 AND completed_at IS NULL RETURNING {_COLUMNS}
"""
_ABANDON = """
UPDATE handoff_codes SET pending_since = NULL, completed_by = NULL
WHERE code = $1 AND completed_at IS NULL
"""
# A stale completion claimed by moving its lease on: no other sweep takes it meanwhile,
# and no connection is held across the ledger writes (the journal's flush needs one).
_STALE = f"""
UPDATE handoff_codes SET pending_since = now()
WHERE code = (
    SELECT code FROM handoff_codes
    WHERE pending_since IS NOT NULL AND completed_at IS NULL
      AND pending_since < now() - make_interval(secs => $1)
    ORDER BY pending_since LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING {_COLUMNS}
"""


class Handoff(msgspec.Struct, frozen=True):
    code: str  # stored form, no dash (handoff_code.display groups it)
    reservation_id: str
    location: str
    created_by: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    pending_since: datetime.datetime | None
    completed_at: datetime.datetime | None
    completed_by: str | None


class HandoffOutcome(msgspec.Struct, frozen=True):
    result: HandoffResult
    handoff: Handoff | None = None
    # Named `reservation` so the group commit's touched_partitions narrows its wait.
    reservation: Reservation | None = None
    state: CodeState | None = None
    detail: str = ""
    locations: list[str] = []


def op_id(code: str) -> str:
    """The ledger op id of a code's fulfillment: a retry or the sweep cannot apply it twice."""
    return f"handoff-{code}"


def now_ms(engine: LedgerEngine) -> int:
    return instant_ms(engine.reservations.clock)


def _at(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)


def _handoff(row: asyncpg.Record) -> Handoff:
    return Handoff(**dict(row.items()))


async def _reservation(db: Queryable, engine: LedgerEngine, rid: str) -> Reservation | None:
    """From Redis while live; a finished one from the journal (as api/wiring.py reads it)."""
    found = await engine.reservations.get(rid)
    return found if found is not None else await reservation_from_journal(db, rid)


def _view(result: HandoffResult, h: Handoff, r: Reservation | None, now: int) -> HandoffOutcome:
    state = code_state(h.pending_since is not None, h.completed_at is not None, r, now)
    return HandoffOutcome(result, h, r, state)


async def location_of(pool: asyncpg.Pool, code: str) -> str | None:
    """The store a code completes at (for the route's lane); None for an unknown code."""
    found: str | None = await pool.fetchval(
        "SELECT location FROM handoff_codes WHERE code = $1", code
    )
    return found


async def create(
    pool: asyncpg.Pool,
    engine: LedgerEngine,
    rid: str,
    actor: str,
    new_code: Callable[[], str] = generate,
) -> HandoffOutcome:
    """The reservation's code: a new one for a held reservation at one store, else the one
    it already has."""
    now = now_ms(engine)
    reservation = await _reservation(pool, engine, rid)
    row = await pool.fetchrow(_BY_RESERVATION, rid)
    if row is not None:
        return await _existing(pool, _handoff(row), reservation, now)
    if reservation is None:
        return HandoffOutcome(HandoffResult.reservation_not_found, detail=f"no reservation {rid}")
    refused = refuse_new(reservation, now)
    if refused is not None:
        where = locations_of(reservation.lines)
        return HandoffOutcome(refused[0], None, reservation, None, refused[1], where)
    if await pool.fetchval("SELECT 1 FROM orders WHERE reservation_id = $1", rid):
        detail = f"reservation {rid} holds an order: the order's pickup completes it"
        return HandoffOutcome(HandoffResult.order_reservation, None, reservation, None, detail)
    assert reservation.expires_at_ms is not None  # held
    location, expires = reservation.lines[0].location, _at(reservation.expires_at_ms)
    for _ in range(CODE_ATTEMPTS_MAX):
        row = await pool.fetchrow(_INSERT, new_code(), rid, location, actor, _at(now), expires)
        if row is not None:
            return _view(HandoffResult.created, _handoff(row), reservation, now)
        row = await pool.fetchrow(_BY_RESERVATION, rid)
        if row is not None:  # a concurrent request gave it one first
            return await _existing(pool, _handoff(row), reservation, now)
    return HandoffOutcome(HandoffResult.codes_exhausted, detail="no free code was found; retry")


async def _existing(
    pool: asyncpg.Pool, h: Handoff, reservation: Reservation | None, now: int
) -> HandoffOutcome:
    """The code again; an extended hold moves its expiry along."""
    held = reservation is not None and reservation.state is State.held
    if held and h.pending_since is None and h.completed_at is None:
        assert reservation is not None and reservation.expires_at_ms is not None
        expires = _at(reservation.expires_at_ms)
        if expires != h.expires_at:
            await pool.execute(
                "UPDATE handoff_codes SET expires_at = $2 WHERE code = $1", h.code, expires
            )
            h = msgspec.structs.replace(h, expires_at=expires)
    return _view(HandoffResult.existing, h, reservation, now)


async def find(pool: asyncpg.Pool, engine: LedgerEngine, typed: str) -> HandoffOutcome:
    """A code as typed at the till, with its reservation; expired or void ones say so."""
    row = await pool.fetchrow(_BY_CODE, normalise(typed))
    if row is None:
        return HandoffOutcome(HandoffResult.not_found, detail="no such handoff code")
    h = _handoff(row)
    outcome = _view(
        HandoffResult.found, h, await _reservation(pool, engine, h.reservation_id), now_ms(engine)
    )
    if outcome.state is CodeState.expired:
        return msgspec.structs.replace(
            outcome, result=HandoffResult.expired, detail="the hold expired"
        )
    if outcome.state is CodeState.void:
        return msgspec.structs.replace(
            outcome, result=HandoffResult.void, detail=_ended(outcome.reservation)
        )
    return outcome


def _ended(r: Reservation | None) -> str:
    return "the reservation is gone" if r is None else f"the reservation is {r.state.value}"


async def complete(
    pool: asyncpg.Pool, engine: LedgerEngine, durability: Durability, typed: str, actor: str
) -> HandoffOutcome:
    """The sale at the counter: the reservation's open units leave on hand and reserved."""
    begun = await begin_completion(pool, engine, normalise(typed), actor)
    if isinstance(begun, HandoffOutcome):
        return begun
    return await finish_completion(pool, engine, durability, begun)


async def begin_completion(
    pool: asyncpg.Pool, engine: LedgerEngine, code: str, actor: str
) -> Handoff | HandoffOutcome:
    """Step 1: the row marked begun, or the answer when there is nothing to begin."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_BY_CODE + " FOR UPDATE", code)
        if row is None:
            return HandoffOutcome(HandoffResult.not_found, detail="no such handoff code")
        h = _handoff(row)
        if h.pending_since is not None:  # another press began it: finish it alike
            return h
        reservation = await _reservation(conn, engine, h.reservation_id)
        outcome = _view(HandoffResult.found, h, reservation, now_ms(engine))
        if outcome.state is CodeState.completed:
            return msgspec.structs.replace(outcome, result=HandoffResult.duplicate)
        if outcome.state is CodeState.expired:
            detail = "the hold expired before the sale was completed"
            return msgspec.structs.replace(outcome, result=HandoffResult.expired, detail=detail)
        if outcome.state is CodeState.void:
            detail = _ended(reservation)
            return msgspec.structs.replace(outcome, result=HandoffResult.void, detail=detail)
        begun = await conn.fetchrow(_BEGIN, code, actor)
        assert begun is not None  # locked above and not completed
        return _handoff(begun)


async def _ledger(
    db: Queryable, engine: LedgerEngine, durability: Durability, h: Handoff
) -> tuple[HandoffResult | None, Reservation | None, str]:
    """Step 2: commit (a held reservation cannot be fulfilled) then fulfill every open unit,
    each durable before it counts. None when the units have left."""
    service, rid = engine.reservations, h.reservation_id
    committed = await acknowledged(durability, lambda: service.commit(rid))
    if committed.result is TransitionResult.expired:
        return HandoffResult.expired, committed.reservation, "the hold expired before the sale"
    settled = await acknowledged(durability, lambda: service.fulfill(rid, None, op_id(h.code)))
    after = settled.reservation or await _reservation(db, engine, rid)
    if settled.ok or (after is not None and after.state is State.fulfilled):
        return None, after, ""
    if after is not None and after.state is State.expired:
        return HandoffResult.expired, after, "the hold expired before the sale"
    if settled.result in (TransitionResult.illegal, TransitionResult.not_found):
        return HandoffResult.void, after, _ended(after)
    return HandoffResult.refused, after, settled.detail or settled.result.value


async def finish_completion(
    db: Queryable, engine: LedgerEngine, durability: Durability, h: Handoff
) -> HandoffOutcome:
    """Steps 2 and 3: the ledger, then the row completed (or, refused, no longer begun)."""
    refused, after, detail = await _ledger(db, engine, durability, h)
    if refused is not None:
        await db.execute(_ABANDON, h.code)
        h = msgspec.structs.replace(h, pending_since=None, completed_by=None)
        state = code_state(False, False, after, now_ms(engine))
        return HandoffOutcome(refused, h, after, state, detail)
    row = await db.fetchrow(_DONE, h.code, _at(now_ms(engine)))
    if row is None:  # recorded by another press or the sweep meanwhile
        row = await db.fetchrow(_BY_CODE, h.code)
        assert row is not None  # codes are never deleted
        return HandoffOutcome(HandoffResult.duplicate, _handoff(row), after, CodeState.completed)
    return HandoffOutcome(HandoffResult.completed, _handoff(row), after, CodeState.completed)


async def resume_stale(
    pool: asyncpg.Pool, engine: LedgerEngine, durability: Durability, older_than_s: float
) -> int:
    """Finishes completions begun more than ``older_than_s`` ago (their process died);
    returns how many it finished (completed, or found refused and no longer begun)."""
    finished = 0
    for _ in range(RESUME_BATCH_MAX):
        row = await pool.fetchrow(_STALE, older_than_s)
        if row is None:
            break
        await finish_completion(pool, engine, durability, _handoff(row))
        finished += 1
    return finished
