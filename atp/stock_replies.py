"""Stock and supply scripts' replies as typed outcomes: [result, stream id, on hand,
reserved, safety, incoming], then received, retired and remaining for supply scripts."""

from atp import keys
from atp.model import Position, StockOutcome, StockResult, SupplyOutcome


def position_from_reply(sku: str, location: str, reply: list[int]) -> Position:
    on_hand, reserved, safety, incoming = (int(v) for v in reply)
    return Position(sku, location, on_hand, reserved, safety, incoming)


def outcome_from_reply(sku: str, location: str, reply: list[object]) -> StockOutcome:
    partition = keys.partition_of_sku(sku)
    stream_id = str(reply[1])
    return StockOutcome(
        result=StockResult(str(reply[0])),
        position=position_from_reply(sku, location, reply[2:6]),  # type: ignore[arg-type]
        event_id=f"{partition}-{stream_id}" if stream_id else None,
    )


def supply_outcome_from_reply(sku: str, location: str, reply: list[object]) -> SupplyOutcome:
    """A supply script's reply: the stock reply, then received, retired and remaining
    (refusals stop after the position)."""
    base = outcome_from_reply(sku, location, reply)
    received, retired, remaining = [int(str(v)) for v in reply[6:9]] if len(reply) > 6 else [0] * 3
    return SupplyOutcome(
        result=base.result,
        position=base.position,
        event_id=base.event_id,
        received=received,
        retired=retired,
        remaining=remaining,
    )
