"""Reservations: hold, read, list, extend, commit, fulfill, release."""

import uuid
from typing import Any

from api import lanes, listing, params
from api.auth import Scope
from api.ops import Ctx, Op, Param, Reply
from api.results import refusal, success_status
from api.schemas_res import (
    ExtendBody,
    ReservationOut,
    ReservationPage,
    ReserveBody,
    SettleBody,
)
from api.settings import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX
from atp.model import InvalidInput
from atp.validate import check_id
from reservations.model import Line, ReserveResult, State, TransitionOutcome, TransitionResult

ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})


def _transition(ctx: Ctx, outcome: TransitionOutcome) -> Reply:
    ctx.wrote(outcome)
    status = success_status(outcome.result)
    r = outcome.reservation
    if status is None:
        state = None if r is None else r.state.value
        raise refusal(outcome.result, outcome.detail, state=state)
    assert r is not None
    return status, ReservationOut.of(r, outcome.positions)


def _reservation_id(ctx: Ctx, body: ReserveBody) -> str:
    if body.id is not None:
        return body.id
    derived = ctx.op_id()  # a retry with the same Idempotency-Key names the same hold
    return derived if derived is not None else "r-" + uuid.uuid4().hex


async def reserve(ctx: Ctx, body: ReserveBody) -> Reply:
    lines = [Line(ln.sku, ln.location, ln.qty) for ln in body.lines]
    outcome = await ctx.services.engine.reservations.reserve(
        _reservation_id(ctx, body), body.channel, lines, body.ttl_seconds
    )
    ctx.wrote(outcome)
    status = success_status(outcome.result)
    r = outcome.reservation
    if status is None:
        state = State.aborted.value if outcome.result is ReserveResult.aborted else None
        detail = "no line was reserved" if outcome.shortfalls else ""
        raise refusal(outcome.result, detail, shortfalls=outcome.shortfalls or None, state=state)
    assert r is not None
    return status, ReservationOut.of(r, outcome.positions)


async def get(ctx: Ctx, _: None) -> Reply:
    reservation = await ctx.services.reservation(ctx.path("id"))
    if reservation is None:
        return _transition(ctx, TransitionOutcome(TransitionResult.not_found))
    return 200, ReservationOut.of(reservation)


async def list_(ctx: Ctx, _: None) -> Reply:
    query = ctx.query()
    raw_state, location = query.get("state"), query.get("location")
    if location is not None:
        check_id("location", location)
    try:
        state = None if raw_state is None else State(raw_state)
    except ValueError:
        raise InvalidInput("state", "is not a reservation state") from None
    limit = params.integer(query, "limit", LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX)
    found, cursor = await listing.list_reservations(
        ctx.services.engine, state, location, limit, query.get("cursor"), ctx.principal.locations
    )
    return 200, ReservationPage([ReservationOut.of(r) for r in found], cursor)


async def extend(ctx: Ctx, body: ExtendBody) -> Reply:
    service = ctx.services.engine.reservations
    return _transition(ctx, await service.extend(ctx.path("id"), body.ttl_seconds))


async def commit(ctx: Ctx, _: None) -> Reply:
    return _transition(ctx, await ctx.services.engine.reservations.commit(ctx.path("id")))


def _lines(body: SettleBody | None) -> list[Line] | None:
    if body is None or body.lines is None:
        return None
    return [Line(ln.sku, ln.location, ln.qty) for ln in body.lines]


async def fulfill(ctx: Ctx, body: SettleBody | None) -> Reply:
    outcome = await ctx.services.settle(ctx.path("id"), "fulfilled", _lines(body), ctx.op_id())
    return _transition(ctx, outcome)


async def release(ctx: Ctx, body: SettleBody | None) -> Reply:
    outcome = await ctx.services.settle(ctx.path("id"), "released", _lines(body), ctx.op_id())
    return _transition(ctx, outcome)


_ID = params.path_id("id", "the reservation id")
_STATE: dict[str, Any] = {"type": "string", "enum": [s.value for s in State]}
_LIMIT: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": LIST_LIMIT_MAX,
    "default": LIST_LIMIT_DEFAULT,
}
_OK = {200: ReservationOut}


def _settle_op(verb: str, handler: Any, summary: str) -> Op:
    return Op(
        "POST",
        f"/v1/reservations/{{id}}/{verb}",
        f"{verb}Reservation",
        summary,
        handler,
        Scope.reservations_write,
        _OK,
        ERRORS,
        body=SettleBody,
        body_optional=True,
        params=(_ID,),
        idempotent=True,
        tag="reservations",
        lane=lanes.reservation,
        description="No body (or no `lines`): every unit still open. With `lines`: those "
        "quantities. Send an Idempotency-Key to retry a partial one safely.",
    )


OPS = [
    Op(
        "POST",
        "/v1/reservations",
        "reserve",
        "Hold every line, or none",
        reserve,
        Scope.reservations_write,
        {201: ReservationOut, 200: ReservationOut},
        ERRORS - {404},
        body=ReserveBody,
        idempotent=True,
        tag="reservations",
        lane=lanes.held_lines,
        description="201 with the hold; re-posting the same id and body returns it (200). "
        "409 `insufficient` lists `shortfalls` and reserves nothing; the same id with "
        "another body is 409 `reservation-conflict`.",
    ),
    Op(
        "GET",
        "/v1/reservations",
        "listReservations",
        "List reservations (cursor pagination; a SCAN: for tools, not hot paths)",
        list_,
        Scope.reservations_write,
        {200: ReservationPage},
        frozenset({401, 403, 422, 429}),
        params=(
            Param("state", "query", _STATE),
            Param(
                "location", "query", params.id_schema("location"), "reservations with a line here"
            ),
            Param("limit", "query", _LIMIT),
            Param("cursor", "query", {"type": "string", "maxLength": 512}),
        ),
        tag="reservations",
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/reservations/{id}",
        "getReservation",
        "A reservation's state and lines",
        get,
        Scope.reservations_write,
        _OK,
        frozenset({401, 403, 404, 422, 429}),
        params=(_ID,),
        tag="reservations",
        lane=lanes.reservation,
    ),
    Op(
        "POST",
        "/v1/reservations/{id}/extend",
        "extendReservation",
        "Move a held reservation's deadline to now + ttl_seconds",
        extend,
        Scope.reservations_write,
        _OK,
        ERRORS,
        body=ExtendBody,
        params=(_ID,),
        idempotent=True,
        tag="reservations",
        lane=lanes.reservation,
    ),
    Op(
        "POST",
        "/v1/reservations/{id}/commit",
        "commitReservation",
        "Held to committed: no expiry from here",
        commit,
        Scope.reservations_write,
        _OK,
        ERRORS - {400, 413, 415},
        params=(_ID,),
        idempotent=True,
        tag="reservations",
        lane=lanes.reservation,
        description="409 `reservation-expired` past the deadline.",
    ),
    _settle_op("fulfill", fulfill, "Units leave: all open, or per line"),
    _settle_op("release", release, "Units return to availability: all open, or per line"),
]
