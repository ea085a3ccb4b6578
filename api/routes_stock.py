"""Stock writes: adjustments, counts, safety stock, incoming supply."""

import hashlib

from api import lanes, params
from api.auth import Scope
from api.ops import Ctx, Handler, Op, Reply
from api.results import refusal
from api.schemas import (
    Adjustment,
    CountBody,
    IncomingBody,
    IncomingWrite,
    PositionOut,
    ReceiveBody,
    RedateBody,
    SafetyBody,
    StockWrite,
    SupplyRef,
    SupplyWrite,
)
from atp.model import StockOutcome, SupplyOutcome

WRITE_ERRORS = frozenset({400, 401, 403, 409, 413, 415, 422, 429})


def _reply(ctx: Ctx, outcome: StockOutcome) -> Reply:
    ctx.wrote(outcome)
    position = PositionOut.of(outcome.position)
    if not outcome.ok:
        raise refusal(outcome.result, "", position=position)
    return 200, StockWrite(outcome.result.value, outcome.event_id, position)  # type: ignore[arg-type]


async def adjust(ctx: Ctx, body: Adjustment) -> Reply:
    stock = ctx.services.engine.stock
    return _reply(
        ctx, await stock.adjust(body.sku, body.location, body.delta, body.reason, ctx.op_id())
    )


async def count(ctx: Ctx, body: CountBody) -> Reply:
    sku, location = ctx.path("sku"), ctx.path("location")
    outcome = await ctx.services.engine.stock.set_on_hand(
        sku,
        location,
        body.on_hand,
        expected_on_hand=body.expected_on_hand,
        reason=body.reason,
        op_id=ctx.op_id(),
    )
    return _reply(ctx, outcome)


async def set_safety(ctx: Ctx, body: SafetyBody) -> Reply:
    sku, location = ctx.path("sku"), ctx.path("location")
    stock = ctx.services.engine.stock
    return _reply(ctx, await stock.set_safety(sku, location, body.safety, ctx.op_id()))


def supply_id(ctx: Ctx, body: IncomingBody) -> str:
    """Given, else from the Idempotency-Key, else from the body (two identical supplies
    without either are one supply: send a supply_id to record both)."""
    if body.supply_id is not None:
        return body.supply_id
    seed = ctx.op_id() or f"{body.sku}|{body.location}|{body.qty}|{body.expected_at}"
    return "sup-" + hashlib.sha256(seed.encode()).hexdigest()[:32]


async def add_incoming(ctx: Ctx, body: IncomingBody) -> Reply:
    supply = supply_id(ctx, body)
    outcome = await ctx.services.engine.stock.add_incoming(
        body.sku, body.location, supply, body.qty, body.expected_at
    )
    status, written = _reply(ctx, outcome)
    assert isinstance(written, StockWrite)
    return status, IncomingWrite(written.result, written.event_id, written.position, supply)


def _supply_reply(ctx: Ctx, outcome: SupplyOutcome) -> Reply:
    ctx.wrote(outcome)
    position = PositionOut.of(outcome.position)
    if not outcome.ok:
        raise refusal(outcome.result, "", position=position)
    o = outcome
    return 200, SupplyWrite(
        o.result.value,  # type: ignore[arg-type]
        o.event_id,
        position,
        ctx.path("supply_id"),
        o.received,
        o.retired,
        o.over_received,
        o.remaining,
    )


async def receive_incoming(ctx: Ctx, body: ReceiveBody) -> Reply:
    outcome = await ctx.services.engine.stock.receive_incoming(
        body.sku,
        body.location,
        ctx.path("supply_id"),
        body.qty,
        reason=body.reason,
        op_id=ctx.op_id(),
    )
    return _supply_reply(ctx, outcome)


async def cancel_incoming(ctx: Ctx, body: SupplyRef) -> Reply:
    outcome = await ctx.services.engine.stock.cancel_incoming(
        body.sku, body.location, ctx.path("supply_id"), op_id=ctx.op_id()
    )
    return _supply_reply(ctx, outcome)


async def redate_incoming(ctx: Ctx, body: RedateBody) -> Reply:
    outcome = await ctx.services.engine.stock.redate_incoming(
        body.sku, body.location, ctx.path("supply_id"), body.expected_at, op_id=ctx.op_id()
    )
    return _supply_reply(ctx, outcome)


_POSITION = (params.path_id("sku"), params.path_id("location"))
_SUPPLY = (params.path_id("supply_id", "the supply (purchase order) as recorded"),)


def _supply_op(
    verb: str, name: str, summary: str, handler: Handler, body: type, description: str
) -> Op:
    """A write to a recorded supply: POST /v1/stock/incoming/{supply_id}/<verb>."""
    return Op(
        "POST",
        f"/v1/stock/incoming/{{supply_id}}/{verb}",
        name,
        summary,
        handler,
        Scope.stock_write,
        {200: SupplyWrite},
        WRITE_ERRORS | {404},
        body=body,
        params=_SUPPLY,
        idempotent=True,
        tag="stock",
        lane=lanes.body_location,
        description=description,
    )


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
        lane=lanes.body_location,
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
        lane=lanes.path_location,
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
        lane=lanes.path_location,
    ),
    Op(
        "POST",
        "/v1/stock/incoming",
        "addIncoming",
        "Record supply expected at a location by a date",
        add_incoming,
        Scope.stock_write,
        {200: IncomingWrite},
        WRITE_ERRORS,
        body=IncomingBody,
        idempotent=True,
        tag="stock",
        lane=lanes.body_location,
        description="The supply id makes it idempotent; the same id with another qty or "
        "date is 409 `supply-conflict`.",
    ),
    _supply_op(
        "receive",
        "receiveIncoming",
        "Receive a supply, all or part: on hand grows, incoming shrinks, in one step",
        receive_incoming,
        ReceiveBody,
        "Without `qty`, all the supply still expects. More than it expects is "
        "received all the same and reported as `over_received`; the supply is then gone. "
        "404 `supply-not-found` for an unknown (or fully received) supply; send an "
        "Idempotency-Key so a retried partial receipt is not received twice.",
    ),
    _supply_op(
        "cancel",
        "cancelIncoming",
        "Cancel a supply: what it still expects leaves incoming (on hand unchanged)",
        cancel_incoming,
        SupplyRef,
        "404 `supply-not-found` for an unknown (or already retired) supply.",
    ),
    _supply_op(
        "redate",
        "redateIncoming",
        "Change the date a supply is expected by (its qty unchanged)",
        redate_incoming,
        RedateBody,
        "The date it already has is a `duplicate` (no event). 404 "
        "`supply-not-found` for an unknown supply.",
    ),
]
