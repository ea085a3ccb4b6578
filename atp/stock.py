"""Stock writes: each one Lua call that changes a position and appends its event."""

from datetime import date

from atp import keys
from atp.clock import Clock, ServerClock
from atp.limits import (
    EVENT_STREAM_MAXLEN,
    INCOMING_PER_POSITION_MAX,
    QTY_MAX,
    RETENTION_S,
)
from atp.model import AdjustReason, InvalidInput, Position, StockOutcome, StockResult
from atp.redis_io import Arg, RedisIO
from atp.rules import check_adjust_sign, day_number
from atp.scripts import load_script
from atp.validate import (
    check_count,
    check_id,
    check_int,
    check_optional_id,
    check_qty,
    check_reason,
)

_ADJUST = load_script("atp.lua", "adjust")
_SET_ON_HAND = load_script("atp.lua", "set_on_hand")
_SET_SAFETY = load_script("atp.lua", "set_safety")
_INCOMING_ADD = load_script("atp.lua", "incoming_add")
_INCOMING_REMOVE = load_script("atp.lua", "incoming_remove")


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


class Stock:
    def __init__(self, redis: RedisIO, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or ServerClock()

    @staticmethod
    def _receipted_keys(sku: str, location: str, op_id: str) -> list[str]:
        """Position, stream, operation receipt and shortage set: the keys of the receipted
        writes (a write that leaves the position short queues it for re-sourcing)."""
        partition = keys.partition_of_sku(sku)
        return [
            keys.position(sku, location),
            keys.stream(partition),
            keys.operation(partition, op_id or "-"),
            keys.shortages(partition),
        ]

    @staticmethod
    def _supply_keys(sku: str, location: str) -> list[str]:
        return [
            keys.position(sku, location),
            keys.incoming(sku, location),
            keys.stream(keys.partition_of_sku(sku)),
        ]

    async def adjust(
        self,
        sku: str,
        location: str,
        delta: int,
        reason: AdjustReason | str,
        op_id: str | None = None,
    ) -> StockOutcome:
        """Change on hand by a signed delta; refused (negative_on_hand) below zero."""
        check_id("sku", sku)
        check_id("location", location)
        check_int("delta", delta, -QTY_MAX, QTY_MAX)
        try:
            reason = AdjustReason(reason)
        except ValueError:
            allowed = ", ".join(r.value for r in AdjustReason)
            raise InvalidInput("reason", f"must be one of {allowed}") from None
        check_adjust_sign(reason, delta)
        op = check_optional_id("op_id", op_id)
        digest = f"adjust|{location}|{sku}|{delta}|{reason.value}"
        keys_ = self._receipted_keys(sku, location, op)
        args: list[Arg] = [
            sku,
            location,
            delta,
            reason.value,
            op,
            digest,
            self._clock.now_ms(),
            EVENT_STREAM_MAXLEN,
            RETENTION_S,
            QTY_MAX,
        ]
        return outcome_from_reply(sku, location, await self._redis.run(_ADJUST, keys_, args))

    async def set_on_hand(
        self,
        sku: str,
        location: str,
        on_hand: int,
        *,
        expected_on_hand: int | None = None,
        reason: str = "cycle_count",
        op_id: str | None = None,
    ) -> StockOutcome:
        """A count. With ``expected_on_hand`` it applies only if on hand still equals it."""
        check_id("sku", sku)
        check_id("location", location)
        check_count("on_hand", on_hand)
        expected = (
            "" if expected_on_hand is None else check_count("expected_on_hand", expected_on_hand)
        )
        check_reason("reason", reason)
        op = check_optional_id("op_id", op_id)
        digest = f"count|{location}|{sku}|{on_hand}|{expected}|{reason}"
        keys_ = self._receipted_keys(sku, location, op)
        args: list[Arg] = [
            sku,
            location,
            on_hand,
            expected,
            reason,
            op,
            digest,
            self._clock.now_ms(),
            EVENT_STREAM_MAXLEN,
            RETENTION_S,
        ]
        return outcome_from_reply(sku, location, await self._redis.run(_SET_ON_HAND, keys_, args))

    async def set_safety(
        self, sku: str, location: str, safety: int, op_id: str | None = None
    ) -> StockOutcome:
        check_id("sku", sku)
        check_id("location", location)
        check_count("safety", safety)
        op = check_optional_id("op_id", op_id)
        digest = f"safety|{location}|{sku}|{safety}"
        keys_ = self._receipted_keys(sku, location, op)
        args: list[Arg] = [
            sku,
            location,
            safety,
            op,
            digest,
            self._clock.now_ms(),
            EVENT_STREAM_MAXLEN,
            RETENTION_S,
        ]
        return outcome_from_reply(sku, location, await self._redis.run(_SET_SAFETY, keys_, args))

    async def add_incoming(
        self, sku: str, location: str, supply_id: str, qty: int, expected_on: date
    ) -> StockOutcome:
        """Supply expected by a day; the supply id makes it idempotent."""
        check_id("sku", sku)
        check_id("location", location)
        check_id("supply_id", supply_id)
        check_qty("qty", qty)
        if not isinstance(expected_on, date):
            raise InvalidInput("expected_on", "must be a date")
        keys_ = self._supply_keys(sku, location)
        args: list[Arg] = [
            sku,
            location,
            supply_id,
            qty,
            day_number(expected_on),
            self._clock.now_ms(),
            EVENT_STREAM_MAXLEN,
            INCOMING_PER_POSITION_MAX,
        ]
        return outcome_from_reply(sku, location, await self._redis.run(_INCOMING_ADD, keys_, args))

    async def remove_incoming(self, sku: str, location: str, supply_id: str) -> StockOutcome:
        check_id("sku", sku)
        check_id("location", location)
        check_id("supply_id", supply_id)
        keys_ = self._supply_keys(sku, location)
        args: list[Arg] = [sku, location, supply_id, self._clock.now_ms(), EVENT_STREAM_MAXLEN]
        reply = await self._redis.run(_INCOMING_REMOVE, keys_, args)
        return outcome_from_reply(sku, location, reply)
