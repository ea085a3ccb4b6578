"""Domain types shared by the ledger, reservations and their reference model."""

import enum
from datetime import date

import msgspec


class Channel(enum.StrEnum):
    online = "online"  # web, app, marketplaces: never promised into safety stock
    store = "store"  # the counter: the customer holds the item, safety may be sold


class AdjustReason(enum.StrEnum):
    receipt = "receipt"
    sale = "sale"
    return_ = "return"
    damage = "damage"
    count_correction = "count_correction"
    transfer_in = "transfer_in"
    transfer_out = "transfer_out"


# The sign a delta must have for each reason; None accepts either.
REASON_SIGN: dict[AdjustReason, int | None] = {
    AdjustReason.receipt: 1,
    AdjustReason.return_: 1,
    AdjustReason.transfer_in: 1,
    AdjustReason.sale: -1,
    AdjustReason.damage: -1,
    AdjustReason.transfer_out: -1,
    AdjustReason.count_correction: None,
}


class Position(msgspec.Struct, frozen=True):
    sku: str
    location: str
    on_hand: int = 0
    reserved: int = 0
    safety: int = 0
    incoming: int = 0

    def atp(self, channel: Channel) -> int:
        return max(0, self.available(channel))

    def available(self, channel: Channel) -> int:
        """Unclamped: negative when more is promised than the channel may sell."""
        held_back = self.safety if channel is Channel.online else 0
        return self.on_hand - self.reserved - held_back

    @property
    def short(self) -> int:
        """Units promised beyond what is on hand (after a count or damage)."""
        return max(0, self.reserved - self.on_hand)


class Supply(msgspec.Struct, frozen=True):
    supply_id: str
    qty: int
    expected_on: date


class StockResult(enum.StrEnum):
    applied = "applied"
    duplicate = "duplicate"  # same op id and body: the first reply, replayed
    op_conflict = "op_conflict"  # same op id, another body
    negative_on_hand = "negative_on_hand"
    over_limit = "over_limit"  # on hand would pass QTY_MAX
    expected_mismatch = "expected_mismatch"
    supply_conflict = "supply_conflict"  # supply id exists with another qty or date
    supply_not_found = "supply_not_found"
    too_many_supplies = "too_many_supplies"


class StockOutcome(msgspec.Struct, frozen=True):
    result: StockResult
    position: Position
    event_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.result in (StockResult.applied, StockResult.duplicate)


class SupplyOutcome(StockOutcome, frozen=True, kw_only=True):
    """A receipt, cancellation or re-dating of a supply: what it did to the supply."""

    received: int = 0  # units added to on hand
    retired: int = 0  # units taken off incoming (the supply shrank by as much)
    remaining: int = 0  # the supply's qty left (0: it is gone)

    @property
    def over_received(self) -> int:
        """Units received beyond what the supply still expected (accepted, reported)."""
        return self.received - self.retired


class Event(msgspec.Struct, frozen=True):
    """One ledger change, as appended to a partition's stream in the same atomic step."""

    id: str  # "<partition>-<stream entry id>"
    type: str
    sku: str = ""
    location: str = ""
    d_on_hand: int = 0
    d_reserved: int = 0
    d_safety: int = 0
    d_incoming: int = 0
    on_hand: int = 0
    reserved: int = 0
    safety: int = 0
    incoming: int = 0
    reason: str = ""
    reservation_id: str = ""
    op_id: str = ""
    ts_ms: int = 0
    oversold: int | None = None  # units registers oversold there; only when this changed it
    # reservation_held only: its header's request digest, deadline and leg partitions (csv)
    digest: str = ""
    expires_ms: int = 0
    parts: str = ""


class LedgerUnavailable(RuntimeError):
    """Redis lost its ledger or is being rebuilt: writes are refused, none acknowledged, and
    reads answer 503 rather than zeros."""


class InvalidInput(ValueError):
    """Bad input, refused before anything is touched; names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
