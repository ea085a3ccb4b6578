"""Stock writes: each one Lua call that changes a position and appends its event."""

from atp import digests, keys
from atp.limits import QTY_MAX
from atp.model import AdjustReason, InvalidInput, StockOutcome
from atp.redis_io import Arg
from atp.rules import check_adjust_sign
from atp.scripts import load_script
from atp.stock_replies import outcome_from_reply
from atp.supply_writes import SupplyWrites
from atp.validate import check_count, check_id, check_int, check_optional_id, check_reason

_ADJUST = load_script("atp.lua", "adjust")
_SET_ON_HAND = load_script("atp.lua", "set_on_hand")
_SET_SAFETY = load_script("atp.lua", "set_safety")


class Stock(SupplyWrites):
    """Every stock write: on hand (adjust, count), safety, and incoming supply (inherited)."""

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
            *self._receipted(op, digest),
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
            *self._receipted(op, digest),
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
            *self._receipted(op, digest),
        ]
        return outcome_from_reply(sku, location, await self._redis.run(_SET_SAFETY, keys_, args))
