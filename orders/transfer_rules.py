"""Transfers between locations, the pure part: states, result codes, the ledger ids a
transfer's steps write under, and the checks that decide a request before anything is
written (orders/transfers.py applies them)."""

import enum
import hashlib
from datetime import date
from typing import Final

import msgspec

from atp.limits import ID_LENGTH_MAX, QTY_MAX
from atp.model import Channel, Position

# The ledger ids below are the transfer id plus a short prefix and suffix, and must stay
# within the engine's id bound.
_PREFIX: Final = "trf-"
_SUFFIX_MAX: Final = len(".back")
TRANSFER_ID_LENGTH_MAX: Final = ID_LENGTH_MAX - len(_PREFIX) - _SUFFIX_MAX
RECEIPT_ID_LENGTH_MAX: Final = ID_LENGTH_MAX
TRANSFERS_LISTED_MAX: Final = 200  # a page of GET /v1/transfers
TRANSFERS_LISTED_DEFAULT: Final = 50
RESUME_BATCH_MAX: Final = 100  # begun steps one resume_stale call finishes
STEP_ATTEMPTS_MAX: Final = 3  # a request finding another step begun helps it, this often
ALL: Final = "all"  # the receipt id of "the rest", given no other
assert len(_PREFIX) + TRANSFER_ID_LENGTH_MAX + _SUFFIX_MAX <= ID_LENGTH_MAX
assert TRANSFER_ID_LENGTH_MAX >= 32


class TransferState(enum.StrEnum):
    pending = "pending"  # begun: its units are leaving (the sweep finishes or undoes it)
    in_transit = "in_transit"
    received = "received"
    cancelled = "cancelled"


class Step(enum.StrEnum):
    """A step that writes the ledger, begun in the row before it does (pending_step)."""

    ship = "ship"  # out of the sender, into incoming at the receiver
    unship = "unship"  # the receiver refused the incoming: the units go back
    receive = "receive"
    cancel = "cancel"


class TransferResult(enum.StrEnum):
    created = "created"
    exists = "exists"  # the same id and body again: the transfer as it stands
    applied = "applied"  # a receipt or cancellation
    duplicate = "duplicate"  # that receipt or cancellation again
    not_found = "not_found"
    id_conflict = "id_conflict"  # the id with another body
    insufficient = "insufficient"  # fewer available at the sender than asked
    over_receipt = "over_receipt"  # more than is still in transit
    receipt_conflict = "receipt_conflict"  # a receipt id with another qty
    closed = "closed"  # received or cancelled: nothing more to receive or cancel
    refused = "refused"  # the ledger refused a step (its result in the detail)
    busy = "busy"  # another step kept the row begun through every attempt


class Spec(msgspec.Struct, frozen=True):
    """What a create asks: its digest tells a retry from an id reused with another body."""

    id: str
    sku: str
    from_location: str
    to_location: str
    qty: int
    expected_on: date

    def digest(self) -> str:
        fields = (self.sku, self.from_location, self.to_location, self.qty, self.expected_on)
        return hashlib.sha256(msgspec.json.encode(fields)).hexdigest()


def check_spec(spec: Spec) -> tuple[str, str] | None:
    """The field and message of the first thing wrong with a transfer, or None."""
    if len(spec.id) > TRANSFER_ID_LENGTH_MAX:
        return "id", f"must be at most {TRANSFER_ID_LENGTH_MAX} characters"
    if not 1 <= spec.qty <= QTY_MAX:
        return "qty", f"must be between 1 and {QTY_MAX}"
    if spec.from_location == spec.to_location:
        return "to", "must differ from from"
    return None


def shortfall(spec: Spec, sender: Position) -> int | None:
    """Units the sender lacks, or None. Units promised to reservations stay: a transfer
    takes only what the store could still sell (safety stock included: it is on the
    shelf, held back from online only)."""
    available = sender.atp(Channel.store)
    return None if available >= spec.qty else available


def supply_id(transfer_id: str) -> str:
    """The incoming supply at the receiver that stands for the units in transit."""
    return f"{_PREFIX}{transfer_id}"


def out_op(transfer_id: str) -> str:
    return f"{_PREFIX}{transfer_id}.out"


def undo_op(transfer_id: str) -> str:
    return f"{_PREFIX}{transfer_id}.undo"


def cancel_op(transfer_id: str) -> str:
    return f"{_PREFIX}{transfer_id}.cncl"


def back_op(transfer_id: str) -> str:
    return f"{_PREFIX}{transfer_id}.back"


def receipt_op(transfer_id: str, receipt_id: str) -> str:
    """Hashed: a transfer id and a receipt id together pass the engine's id bound."""
    seed = f"{transfer_id}\n{receipt_id}".encode()
    return f"{_PREFIX}rcv-" + hashlib.sha256(seed).hexdigest()[:40]


def check_receipt(
    qty: int, received: int, receipts: dict[str, int], receipt_id: str, asked: int | None
) -> tuple[TransferResult, int]:
    """A receipt against what is recorded: (duplicate | receipt_conflict | over_receipt |
    applied, units). ``asked`` None: everything still in transit."""
    remaining = qty - received
    if receipt_id in receipts:
        done = receipts[receipt_id]
        same = asked is None or asked == done
        return (TransferResult.duplicate if same else TransferResult.receipt_conflict), done
    units = remaining if asked is None else asked
    if units < 1 or units > remaining:
        return TransferResult.over_receipt, remaining
    return TransferResult.applied, units


for _op in (out_op, undo_op, cancel_op, back_op):
    assert len(_op("x" * TRANSFER_ID_LENGTH_MAX)) <= ID_LENGTH_MAX
assert len(receipt_op("x", "y")) <= ID_LENGTH_MAX
