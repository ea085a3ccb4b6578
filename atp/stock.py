"""Stock writes: each one Lua call that changes a position and appends its event."""

from datetime import date

from atp import digests, keys
from atp.clock import Clock, ServerClock
from atp.limits import (
    EVENT_STREAM_MAXLEN,
    INCOMING_PER_POSITION_MAX,
    QTY_MAX,
    RETENTION_S,
)
from atp.model import (
    AdjustReason,
    InvalidInput,
    Position,
    StockOutcome,
    StockResult,
    SupplyOutcome,
)
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
_INCOMING_RECEIVE = load_script("atp.lua", "incoming_receive")
_INCOMING_CANCEL = load_script("atp.lua", "incoming_cancel")
_INCOMING_REDATE = load_script("atp.lua", "incoming_redate")


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


def _check_supply(sku: str, location: str, supply_id: str, op_id: str | None) -> str:
    check_id("sku", sku)
    check_id("location", location)
    check_id("supply_id", supply_id)
    return check_optional_id("op_id", op_id)


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
        digest = digests.adjust(sku, location, delta, reason.value)
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
        digest = digests.count(sku, location, on_hand, expected, reason)
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
        digest = digests.safety(sku, location, safety)
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

    @staticmethod
    def _supply_op_keys(sku: str, location: str, op_id: str) -> list[str]:
        partition = keys.partition_of_sku(sku)
        return [
            keys.position(sku, location),
            keys.incoming(sku, location),
            keys.stream(partition),
            keys.operation(partition, op_id or "-"),
        ]

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
        """Drops a supply (event ``incoming_removed``): a cancel without an op receipt."""
        op = _check_supply(sku, location, supply_id, None)
        reply = await self._retire(sku, location, supply_id, op, "incoming_removed")
        return outcome_from_reply(sku, location, reply)

    async def receive_incoming(
        self,
        sku: str,
        location: str,
        supply_id: str,
        qty: int | None = None,
        *,
        reason: str | None = None,
        op_id: str | None = None,
    ) -> SupplyOutcome:
        """Goods of a supply arrived: on hand += qty and the supply shrinks by as much, in
        one step (``qty`` None: all it still expects). More than it expects is received
        all the same and reported (``over_received``); the supply is then gone. An op id
        makes a retry a duplicate; without one, a retry after the supply is gone is
        ``supply_not_found``, never a second receipt."""
        op = _check_supply(sku, location, supply_id, op_id)
        given = "" if qty is None else check_qty("qty", qty)
        why = "" if reason is None else check_reason("reason", reason)
        digest = digests.receive(sku, location, supply_id, given, why)
        args: list[Arg] = [
            sku,
            location,
            supply_id,
            given,
            why,
            op,
            digest,
            self._clock.now_ms(),
            EVENT_STREAM_MAXLEN,
            RETENTION_S,
            QTY_MAX,
        ]
        keys_ = self._supply_op_keys(sku, location, op)
        reply = await self._redis.run(_INCOMING_RECEIVE, keys_, args)
        return supply_outcome_from_reply(sku, location, reply)

    async def cancel_incoming(
        self, sku: str, location: str, supply_id: str, *, op_id: str | None = None
    ) -> SupplyOutcome:
        """A supply will not come: its remaining qty leaves incoming; on hand is unchanged."""
        op = _check_supply(sku, location, supply_id, op_id)
        reply = await self._retire(sku, location, supply_id, op, "incoming_cancelled")
        return supply_outcome_from_reply(sku, location, reply)

    async def _retire(
        self, sku: str, location: str, supply_id: str, op: str, event_type: str
    ) -> list[object]:
        digest = digests.cancel(sku, location, supply_id)
        now = self._clock.now_ms()
        args: list[Arg] = [sku, location, supply_id, op, digest, now, EVENT_STREAM_MAXLEN]
        args += [RETENTION_S, event_type]
        keys_ = self._supply_op_keys(sku, location, op)
        reply: list[object] = await self._redis.run(_INCOMING_CANCEL, keys_, args)
        return reply

    async def redate_incoming(
        self,
        sku: str,
        location: str,
        supply_id: str,
        expected_on: date,
        *,
        op_id: str | None = None,
    ) -> SupplyOutcome:
        """A supply is now expected by another day (its qty unchanged); the day it already
        has is a duplicate."""
        op = _check_supply(sku, location, supply_id, op_id)
        if not isinstance(expected_on, date):
            raise InvalidInput("expected_on", "must be a date")
        day = day_number(expected_on)
        digest = digests.redate(sku, location, supply_id, day)
        args: list[Arg] = [
            sku,
            location,
            supply_id,
            day,
            op,
            digest,
            self._clock.now_ms(),
            EVENT_STREAM_MAXLEN,
            RETENTION_S,
        ]
        keys_ = self._supply_op_keys(sku, location, op)
        reply = await self._redis.run(_INCOMING_REDATE, keys_, args)
        return supply_outcome_from_reply(sku, location, reply)
