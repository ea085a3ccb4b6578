"""Incoming supply writes (add, receive, cancel, redate, remove): the supply half of
atp/stock.py's Stock, each one Lua call that changes a position's incoming and appends its
event."""

from datetime import date

from atp import digests, keys
from atp.clock import Clock, ServerClock
from atp.limits import EVENT_STREAM_MAXLEN, INCOMING_PER_POSITION_MAX, QTY_MAX, RETENTION_S
from atp.model import InvalidInput, StockOutcome, SupplyOutcome
from atp.redis_io import Arg, RedisIO
from atp.rules import day_number
from atp.scripts import load_script
from atp.stock_replies import outcome_from_reply, supply_outcome_from_reply
from atp.validate import check_id, check_optional_id, check_qty, check_reason

_INCOMING_ADD = load_script("atp.lua", "incoming_add")
_INCOMING_RECEIVE = load_script("atp.lua", "incoming_receive")
_INCOMING_CANCEL = load_script("atp.lua", "incoming_cancel")
_INCOMING_REDATE = load_script("atp.lua", "incoming_redate")


def _check_supply(sku: str, location: str, supply_id: str, op_id: str | None) -> str:
    check_id("sku", sku)
    check_id("location", location)
    check_id("supply_id", supply_id)
    return check_optional_id("op_id", op_id)


class SupplyWrites:
    def __init__(self, redis: RedisIO, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or ServerClock()

    def _receipted(self, op: str, digest: str) -> list[Arg]:
        """The arguments every receipted write ends with (atp/lua/_prelude.lua receipts)."""
        return [op, digest, self._clock.now_ms(), EVENT_STREAM_MAXLEN, RETENTION_S]

    @staticmethod
    def _supply_keys(sku: str, location: str) -> list[str]:
        return [
            keys.position(sku, location),
            keys.incoming(sku, location),
            keys.stream(keys.partition_of_sku(sku)),
        ]

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
            *self._receipted(op, digest),
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
        args: list[Arg] = [sku, location, supply_id, *self._receipted(op, digest), event_type]
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
            *self._receipted(op, digest),
        ]
        keys_ = self._supply_op_keys(sku, location, op)
        reply = await self._redis.run(_INCOMING_REDATE, keys_, args)
        return supply_outcome_from_reply(sku, location, reply)
