"""Store registers replaying their offline queues."""

from collections.abc import Sequence

from api import lanes, metrics, params
from api.auth import Scope
from api.ops import Ctx, Op, Reply
from api.schemas_res import PosBatch, PosBatchResult, PosEventResult, PosReturn, PosSale, PosVoid
from atp.register_events import (
    RegisterEvent,
    RegisterEventKind,
    RegisterEventResult,
    RegisterEventStatus,
)
from orders import register_sales
from orders.register_sale_rules import RegisterSale, RegisterVoid, SaleKind, register_sale

_RECORDED_BEFORE = "event_id was recorded before with another customer or price"


def _event(e: PosSale | PosReturn | PosVoid) -> RegisterEvent:
    occurred_at_ms = int(e.occurred_at.timestamp() * 1000)
    if isinstance(e, PosVoid):
        return RegisterEvent(
            RegisterEventKind.void, e.event_id, e.device_seq, occurred_at_ms, voids=e.voids
        )
    kind = RegisterEventKind.sale if isinstance(e, PosSale) else RegisterEventKind.return_
    return RegisterEvent(kind, e.event_id, e.device_seq, occurred_at_ms, e.sku, e.location, e.qty)


def _record(i: int, e: PosSale | PosReturn | PosVoid) -> RegisterSale | RegisterVoid | None:
    """What the event records beside the ledger (None: nothing); raises InvalidInput
    naming the field, before anything is touched."""
    if isinstance(e, PosVoid):
        return RegisterVoid(e.voids, e.occurred_at)
    c = e.customer
    sale = isinstance(e, PosSale)
    return register_sale(
        f"events[{i}]",
        kind=SaleKind.sale if sale else SaleKind.return_,
        event_id=e.event_id,
        sku=e.sku,
        location=e.location,
        qty=e.qty,
        occurred_at=e.occurred_at,
        unit_price=e.unit_price if isinstance(e, PosSale) else None,
        currency_code=e.currency if isinstance(e, PosSale) else None,
        customer=None if c is None else (c.id, c.email, c.phone),
    )


def _to_record(
    records: Sequence[RegisterSale | RegisterVoid | None],
    results: Sequence[RegisterEventResult],
) -> list[RegisterSale | RegisterVoid]:
    """What the ledger took: applied, or applied before (a retry records what a failed
    attempt may not have). Every void goes: its target may carry a row from before."""
    return [
        record
        for record, result in zip(records, results, strict=True)
        if record is not None and result.status is not RegisterEventStatus.conflict
    ]


async def replay(ctx: Ctx, body: PosBatch) -> Reply:
    records = [_record(i, e) for i, e in enumerate(body.events)]
    events = [_event(e) for e in body.events]
    device_id = ctx.path("device_id")
    results = await ctx.services.registers.replay(device_id, events)
    # The ledger's call has returned: the rows get their own short transactions.
    conflicts = await register_sales.record(
        ctx.services.pool, device_id, _to_record(records, results)
    )
    out = []
    for r in results:
        if r.status is RegisterEventStatus.duplicate and r.event_id in conflicts:
            out.append(
                PosEventResult(r.event_id, RegisterEventStatus.conflict, 0, _RECORDED_BEFORE)
            )
        else:
            out.append(PosEventResult(r.event_id, r.status, r.oversold, r.detail or None))
    metrics.count_register_events(results)
    return 200, PosBatchResult(device_id, out)


OPS = [
    Op(
        "POST",
        "/v1/pos/{device_id}/events",
        "replayPosEvents",
        "A register replays its queue of sales, returns and voids",
        replay,
        Scope.stock_write,
        {200: PosBatchResult},
        frozenset({400, 401, 403, 413, 415, 422, 429}),
        body=PosBatch,
        params=(params.path_id("device_id", "the register"),),
        tag="pos",
        lane=lanes.register,
        description="Each event takes effect once however often it is replayed, in "
        "`device_seq` order (which must increase within a batch). A sale is always "
        "accepted; units beyond the store's availability are reported as `oversold` on "
        "the result and on the position's availability row. Per event: `applied`, "
        "`duplicate` (same id, same body) or `conflict` (same id or device_seq, another "
        "body; or a void of an unknown or already voided event). A sale or return may "
        "carry the `customer` (id, email or phone: joined into the one customer of every "
        "channel) and a sale the `unit_price` (and `currency`) it was sold at, checked "
        "against the price in force at `occurred_at`; the answer comes once they are "
        "recorded, and never repeats the customer.",
    ),
]
