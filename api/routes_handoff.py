"""Cart handoff: a held online reservation's short code, completed at the store (orders/handoff.py).

The code is a counter's credential: reading and completing it are confined to a key that
sells at its store (the store channel) and is allowed there.
"""

import datetime
from typing import Any

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError
from api.schemas import Response
from api.schemas_res import ReservationOut
from atp.model import Channel
from orders import handoff
from orders.handoff_code import (
    ALPHABET,
    CODE_LENGTH,
    CODE_PATTERN,
    CODE_SHOWN_LENGTH,
    CodeState,
    HandoffResult,
    display,
    normalise,
)

ERRORS = frozenset({401, 403, 404, 409, 422, 429, 503})

_OK: dict[HandoffResult, int] = {
    HandoffResult.created: 201,
    HandoffResult.existing: 200,
    HandoffResult.found: 200,
    HandoffResult.completed: 200,
    HandoffResult.duplicate: 200,
}
_PROBLEMS: dict[HandoffResult, tuple[int, str, str]] = {
    HandoffResult.not_found: (404, "handoff-not-found", "No such handoff code"),
    HandoffResult.reservation_not_found: (404, "reservation-not-found", "No such reservation"),
    HandoffResult.not_held: (409, "reservation-not-held", "The reservation is not held"),
    HandoffResult.several_locations: (
        409,
        "handoff-several-locations",
        "The reservation holds stock at several locations",
    ),
    HandoffResult.order_reservation: (
        409,
        "order-reservation",
        "The reservation belongs to an order",
    ),
    HandoffResult.expired: (409, "hold-expired", "The hold expired"),
    HandoffResult.void: (409, "handoff-void", "The reservation has ended"),
    HandoffResult.refused: (409, "handoff-refused", "The ledger refused the sale"),
    HandoffResult.codes_exhausted: (503, "handoff-code-unavailable", "No free code; retry"),
}
# Reading a code whose hold has ended: it is gone, not in conflict with anything.
_GONE: dict[HandoffResult, tuple[int, str, str]] = {
    HandoffResult.expired: (410, "handoff-expired", "The handoff code expired with its hold"),
    HandoffResult.void: (410, "handoff-void", "The reservation has ended"),
}
assert set(_OK) | set(_PROBLEMS) == set(HandoffResult) and not set(_OK) & set(_PROBLEMS)


class HandoffOut(Response, frozen=True, omit_defaults=True):
    code: str  # grouped for reading aloud (K7QX-3M9P); accepted in any case, dash or not
    reservation_id: str
    location: str  # the store that completes it
    state: CodeState
    expires_at: datetime.datetime  # with the hold
    created_at: datetime.datetime
    completed_at: datetime.datetime | None = None
    completed_by: str | None = None  # the key that completed it
    reservation: ReservationOut | None = None


def _reply(ctx: Ctx, outcome: handoff.HandoffOutcome, gone: bool = False) -> Reply:
    ctx.wrote(outcome)
    status = _OK.get(outcome.result)
    if status is None:
        table = _GONE if gone and outcome.result in _GONE else _PROBLEMS
        code, slug, title = table[outcome.result]
        r = outcome.reservation
        state = None if r is None else r.state.value
        headers = {"Retry-After": "1"} if code == 503 else None
        raise ApiError(code, slug, title, outcome.detail or title, headers=headers, state=state)
    h, r = outcome.handoff, outcome.reservation
    assert h is not None and outcome.state is not None
    return status, HandoffOut(
        display(h.code),
        h.reservation_id,
        h.location,
        outcome.state,
        h.expires_at,
        h.created_at,
        h.completed_at,
        h.completed_by if h.completed_at is not None else None,
        None if r is None else ReservationOut.of(r),
    )


async def create(ctx: Ctx, _: None) -> Reply:
    services = ctx.services
    found = await handoff.create(
        services.pool, services.engine, ctx.path("id"), ctx.principal.key_id
    )
    return _reply(ctx, found)


async def get(ctx: Ctx, _: None) -> Reply:
    services = ctx.services
    return _reply(ctx, await handoff.find(services.pool, services.engine, ctx.path("code")), True)


async def complete(ctx: Ctx, _: None) -> Reply:
    s = ctx.services
    done = await handoff.complete(
        s.pool, s.engine, s.durability, ctx.path("code"), ctx.principal.key_id
    )
    return _reply(ctx, done)


async def code_at_store(ctx: Any, body: Any) -> None:
    """A code is completed at its store, by a key that sells at the counter there (an
    unknown code passes: the route answers 404)."""
    location = await handoff.location_of(ctx.services.pool, normalise(ctx.path("code")))
    ctx.principal.confine([] if location is None else [location], Channel.store)


_CODE = Param(
    "code",
    "path",
    {
        "type": "string",
        "minLength": CODE_LENGTH,
        "maxLength": CODE_SHOWN_LENGTH,
        "pattern": CODE_PATTERN,
        "examples": ["K7QX-3M9P"],
    },
    f"{CODE_LENGTH} characters from {ALPHABET}; any case, with or without the dash",
    required=True,
)
_TAG = "handoff"

OPS = [
    Op(
        "POST",
        "/v1/reservations/{id}/handoff",
        "createHandoff",
        "A short code for a held reservation, to complete it at its store's counter",
        create,
        Scope.reservations_write,
        {201: HandoffOut, 200: HandoffOut},
        ERRORS,
        params=(params.path_id("id", "the reservation id"),),
        idempotent=True,
        tag=_TAG,
        lane=lanes.reservation,
        description="The reservation must be held with every line at one store, and not "
        "hold an order (409 `order-reservation`: orders are picked up through their own "
        "flow). 201 with a new code, expiring with the hold; a reservation that has one "
        "gets the same code again (200).",
    ),
    Op(
        "GET",
        "/v1/handoff/{code}",
        "getHandoff",
        "A handoff code with its reservation, as typed at the till",
        get,
        Scope.reservations_write,
        {200: HandoffOut},
        frozenset({401, 403, 404, 410, 422, 429}),
        params=(_CODE,),
        tag=_TAG,
        lane=code_at_store,
        description="For a key on the store channel allowed at the code's store. 410 "
        "`handoff-expired` once the hold has expired, `handoff-void` once the reservation "
        "ended otherwise.",
    ),
    Op(
        "POST",
        "/v1/handoff/{code}/complete",
        "completeHandoff",
        "Complete the reservation at the counter as a store sale: its units leave",
        complete,
        Scope.reservations_write,
        {200: HandoffOut},
        ERRORS,
        params=(_CODE,),
        idempotent=True,
        tag=_TAG,
        lane=code_at_store,
        description="Commits the hold and fulfills every open unit (on hand and reserved "
        "drop), durable before the answer. Completing again answers the same (200). 409 "
        "`hold-expired` once the hold has expired; `handoff-void` once the reservation "
        "ended otherwise.",
    ),
]
