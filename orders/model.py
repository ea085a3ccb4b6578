"""An order's plain data and its rules: states, which step may follow which, and the body
digest a reused id is judged by. Pure: no I/O.

The lifecycle (the store steps only for pickup and curbside):

    pending -> placed -> confirmed -> picking -> staged -> ready -> [arrived] -> picked_up
                    \\-> expired     \\-> partially_shipped -> shipped (ship, same day)
    placed .. arrived -> cancelled;   ready, arrived -> no_show

``pending`` is an order whose creation began and whose hold is not yet recorded: the
recovery sweep finishes it (orders/recovery.py).
"""

import enum
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from atp.limits import ID_LENGTH_MAX


class Method(enum.StrEnum):
    ship = "ship"
    pickup = "pickup"
    curbside = "curbside"
    same_day = "same_day"


AT_STORE: Final = frozenset({Method.pickup, Method.curbside})  # collected at a store


class State(enum.StrEnum):
    pending = "pending"
    placed = "placed"  # held, payment not captured: the hold's TTL runs
    confirmed = "confirmed"  # payment captured: the hold is committed
    picking = "picking"
    staged = "staged"
    ready = "ready"  # the customer has been told
    arrived = "arrived"  # curbside: the customer is at a bay
    picked_up = "picked_up"
    partially_shipped = "partially_shipped"
    shipped = "shipped"
    cancelled = "cancelled"
    expired = "expired"  # the hold ran out before payment
    no_show = "no_show"  # ready, never collected within the pickup policy's window


class Step(enum.StrEnum):
    """The store's pickup work, pressed by associates (POST /v1/orders/{id}/pickup/{step})."""

    picking = "picking"
    staged = "staged"
    ready = "ready"
    arrived = "arrived"
    picked_up = "picked_up"


# The states each step may follow; a step already taken is a duplicate (recorded once).
STEP_FROM: Final[Mapping[Step, frozenset[State]]] = {
    Step.picking: frozenset({State.confirmed}),
    Step.staged: frozenset({State.confirmed, State.picking}),
    Step.ready: frozenset({State.staged}),
    Step.arrived: frozenset({State.ready}),
    Step.picked_up: frozenset({State.ready, State.arrived}),
}
# The state each step leads to, and the order's column recording its time.
STEP_TIME_COLUMN: Final[Mapping[Step, str]] = {
    Step.picking: "picking_at",
    Step.staged: "staged_at",
    Step.ready: "ready_at",
    Step.arrived: "arrived_at",
    Step.picked_up: "picked_up_at",
}
CANCELLABLE: Final = frozenset(
    {
        State.placed,
        State.confirmed,
        State.picking,
        State.staged,
        State.ready,
        State.arrived,
    }
)
SHIPPABLE: Final = frozenset({State.confirmed, State.partially_shipped})
# A store's pickup queue: orders it still has to hand over.
OPEN_AT_STORE: Final = frozenset(
    {State.placed, State.confirmed, State.picking, State.staged, State.ready, State.arrived}
)
# Ahead in the pick queue: received, not yet staged.
QUEUED: Final = frozenset({State.placed, State.confirmed, State.picking})
NO_SHOW_FROM: Final = frozenset({State.ready, State.arrived})
# Ended without the customer getting the units.
ENDED: Final = frozenset({State.cancelled, State.expired, State.no_show})


class StepVerdict(enum.StrEnum):
    apply = "apply"
    duplicate = "duplicate"  # taken before: answer as it was
    out_of_order = "out_of_order"


def judge_step(state: State, step: Step, taken: bool) -> StepVerdict:
    """Whether ``step`` may be recorded on an order in ``state``; ``taken``: it already was."""
    if taken:
        return StepVerdict.duplicate
    if state in STEP_FROM[step]:
        return StepVerdict.apply
    return StepVerdict.out_of_order


def digest(body: Mapping[str, Any]) -> str:
    """The body a retry must repeat: canonical JSON (keys sorted), so spacing and key order
    do not matter."""
    return msgspec.json.encode(body, order="sorted").decode()


RESERVATION_PREFIX: Final = "o-"
# An order's id leaves room for its reservation's prefix within the one id length.
ORDER_ID_LENGTH_MAX: Final = ID_LENGTH_MAX - len(RESERVATION_PREFIX)


def reservation_id(order_id: str) -> str:
    """The hold behind an order: derived, so a retried or resumed create finds it again."""
    return RESERVATION_PREFIX + order_id


def op_id(order_id: str, *parts: str) -> str:
    """A ledger op id for one step of an order (idempotent under retries and recovery),
    within the id length: a long order id's is a digest of it."""
    text = ".".join(("o", *parts, order_id))
    if len(text) <= ID_LENGTH_MAX:
        return text
    return "o." + hashlib.sha256(text.encode()).hexdigest()[: ID_LENGTH_MAX - 2]
