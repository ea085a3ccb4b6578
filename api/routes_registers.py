"""Store registers replaying their offline queues."""

from api import lanes, metrics, params
from api.auth import Scope
from api.ops import Ctx, Op, Reply
from api.schemas_res import PosBatch, PosBatchResult, PosEventResult, PosReturn, PosSale, PosVoid
from atp.register_events import RegisterEvent, RegisterEventKind


def _event(e: PosSale | PosReturn | PosVoid) -> RegisterEvent:
    occurred_at_ms = int(e.occurred_at.timestamp() * 1000)
    if isinstance(e, PosVoid):
        return RegisterEvent(
            RegisterEventKind.void, e.event_id, e.device_seq, occurred_at_ms, voids=e.voids
        )
    kind = RegisterEventKind.sale if isinstance(e, PosSale) else RegisterEventKind.return_
    return RegisterEvent(kind, e.event_id, e.device_seq, occurred_at_ms, e.sku, e.location, e.qty)


async def replay(ctx: Ctx, body: PosBatch) -> Reply:
    events = [_event(e) for e in body.events]
    device_id = ctx.path("device_id")
    results = await ctx.services.registers.replay(device_id, events)
    out = [PosEventResult(r.event_id, r.status, r.oversold, r.detail or None) for r in results]
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
        "body; or a void of an unknown or already voided event).",
    ),
]
