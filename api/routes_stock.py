"""Stock writes: adjustments, counts, safety stock, incoming supply."""

import hashlib

from api import params
from api.auth import Scope
from api.ops import Ctx, Op, Reply
from api.results import refusal
from api.schemas import (
    Adjustment,
    CountBody,
    IncomingBody,
    PositionOut,
    SafetyBody,
    StockWrite,
)
from atp.model import StockOutcome

WRITE_ERRORS = frozenset({400, 401, 403, 409, 413, 415, 422, 429})


def _reply(outcome: StockOutcome) -> Reply:
    position = PositionOut.of(outcome.position)
    if not outcome.ok:
        raise refusal(outcome.result, "", position=position)
    return 200, StockWrite(outcome.result.value, outcome.event_id, position)  # type: ignore[arg-type]


async def adjust(ctx: Ctx, body: Adjustment) -> Reply:
    ctx.principal.require_locations([body.location])
    stock = ctx.services.engine.stock
    return _reply(await stock.adjust(body.sku, body.location, body.delta, body.reason, ctx.op_id()))


async def count(ctx: Ctx, body: CountBody) -> Reply:
    sku, location = ctx.path("sku"), ctx.path("location")
    ctx.principal.require_locations([location])
    outcome = await ctx.services.engine.stock.set_on_hand(
        sku,
        location,
        body.on_hand,
        expected_on_hand=body.expected_on_hand,
        reason=body.reason,
        op_id=ctx.op_id(),
    )
    return _reply(outcome)


async def set_safety(ctx: Ctx, body: SafetyBody) -> Reply:
    sku, location = ctx.path("sku"), ctx.path("location")
    ctx.principal.require_locations([location])
    stock = ctx.services.engine.stock
    return _reply(await stock.set_safety(sku, location, body.safety, ctx.op_id()))


def supply_id(ctx: Ctx, body: IncomingBody) -> str:
    """Given, else from the Idempotency-Key, else from the body (two identical supplies
    without either are one supply: send a supply_id to record both)."""
    if body.supply_id is not None:
        return body.supply_id
    seed = ctx.op_id() or f"{body.sku}|{body.location}|{body.qty}|{body.expected_at}"
    return "sup-" + hashlib.sha256(seed.encode()).hexdigest()[:32]


async def add_incoming(ctx: Ctx, body: IncomingBody) -> Reply:
    ctx.principal.require_locations([body.location])
    outcome = await ctx.services.engine.stock.add_incoming(
        body.sku, body.location, supply_id(ctx, body), body.qty, body.expected_at
    )
    return _reply(outcome)


_POSITION = (params.path_id("sku"), params.path_id("location"))

OPS = [
    Op(
        "POST",
        "/v1/stock/adjustments",
        "adjustStock",
        "Change on hand by a signed delta with a reason",
        adjust,
        Scope.stock_write,
        {200: StockWrite},
        WRITE_ERRORS,
        body=Adjustment,
        idempotent=True,
        tag="stock",
        description="409 `negative-on-hand` when on hand would fall below zero.",
    ),
    Op(
        "PUT",
        "/v1/stock/{sku}/{location}",
        "countStock",
        "Set on hand from a count, optionally only if it still equals an expected value",
        count,
        Scope.stock_write,
        {200: StockWrite},
        WRITE_ERRORS,
        body=CountBody,
        params=_POSITION,
        idempotent=True,
        tag="stock",
        description="409 `expected-mismatch` when on hand is not `expected_on_hand`. A count "
        "below reserved is accepted; the position's `short` shows it.",
    ),
    Op(
        "PUT",
        "/v1/stock/{sku}/{location}/safety",
        "setSafety",
        "Set safety stock (kept back from online promises)",
        set_safety,
        Scope.stock_write,
        {200: StockWrite},
        WRITE_ERRORS,
        body=SafetyBody,
        params=_POSITION,
        idempotent=True,
        tag="stock",
    ),
    Op(
        "POST",
        "/v1/stock/incoming",
        "addIncoming",
        "Record supply expected at a location by a date",
        add_incoming,
        Scope.stock_write,
        {200: StockWrite},
        WRITE_ERRORS,
        body=IncomingBody,
        idempotent=True,
        tag="stock",
        description="The supply id makes it idempotent; the same id with another qty or "
        "date is 409 `supply-conflict`.",
    ),
]
