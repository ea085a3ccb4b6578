"""What support says about an order, pure (no I/O): the order's situation, and a reply
rendered from the policy in force for it, with the policy's version.

Situations, the first that holds:

- ``refund_pending``: a return of the order was received and its refund not initiated;
- ``late_pickup``: a store order ready after its promise, or not ready and the promise
  has passed (cancelled and expired orders are never late);
- ``ready_for_pickup``: ready (or the customer is at a bay);
- ``shipped``: units have left (with the carriers' tracking);
- ``in_progress``: anything else.

Back-order is not told: orders store no back-order date (a shortage refuses the order, so
no order waits for supply), so no order is in that situation.
"""

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Final

import msgspec

from orders.model import AT_STORE, State
from orders.return_rules import Return
from orders.views import Order


class Situation(enum.StrEnum):
    refund_pending = "refund_pending"
    late_pickup = "late_pickup"
    ready_for_pickup = "ready_for_pickup"
    shipped = "shipped"
    in_progress = "in_progress"


NEVER_LATE: Final = frozenset({State.cancelled, State.expired})
READY: Final = frozenset({State.ready, State.arrived})
SHIPPED: Final = frozenset({State.shipped, State.partially_shipped})
# The policies a situation's reply quotes, the first that has a version.
POLICIES: Final[dict[Situation, tuple[str, ...]]] = {
    Situation.refund_pending: ("refunds", "returns"),
    Situation.late_pickup: ("pickup",),
    Situation.ready_for_pickup: ("pickup",),
    Situation.shipped: ("returns",),
    Situation.in_progress: (),
}
TRACKING_SHOWN_MAX: Final = 5  # shipments a reply names; the lookup lists them all


class PolicyText(msgspec.Struct, frozen=True):
    name: str
    version: int
    rendered: str


class SupportReply(msgspec.Struct, frozen=True):
    situation: Situation
    text: str
    policy: str | None  # the policy the text quotes; None: it quotes none
    version: int | None


def is_late(order: Order, now: dt.datetime) -> bool:
    if order.method not in AT_STORE or order.promised_at is None or order.state in NEVER_LATE:
        return False
    if order.ready_at is not None:
        return order.ready_at > order.promised_at
    return now > order.promised_at


def refund_pending(returns: Sequence[Return], order_id: str) -> bool:
    return any(r.order_id == order_id and r.state == "received" for r in returns)


def situation(order: Order, returns: Sequence[Return], now: dt.datetime) -> Situation:
    if refund_pending(returns, order.id):
        return Situation.refund_pending
    if is_late(order, now):
        return Situation.late_pickup
    if order.state in READY:
        return Situation.ready_for_pickup
    if order.state in SHIPPED or order.shipped:
        return Situation.shipped
    return Situation.in_progress


def _window(order: Order) -> str:
    return order.promise_text or "the promised time"


def _opening(kind: Situation, order: Order) -> str:
    if kind is Situation.refund_pending:
        return f"We have received your return of order {order.id}; your refund is on its way."
    if kind is Situation.late_pickup:
        if order.ready_at is None:
            return (
                f"We are sorry: order {order.id} was promised ready {_window(order)} and is"
                " not ready yet. We will tell you as soon as it is."
            )
        return (
            f"We are sorry: order {order.id} was promised ready {_window(order)} and was"
            " ready later than that. It is waiting for you at the store."
        )
    if kind is Situation.ready_for_pickup:
        return f"Order {order.id} is ready for you at the store."
    if kind is Situation.shipped:
        tracked = [f"{s.carrier} {s.tracking}" for s in order.shipped[:TRACKING_SHOWN_MAX]]
        track = f" Tracking: {', '.join(tracked)}." if tracked else ""
        return f"Order {order.id} is on its way.{track}"
    return f"Order {order.id} is {order.state.value.replace('_', ' ')}."


def choose(kind: Situation, available: Sequence[PolicyText]) -> PolicyText | None:
    """The policy a situation's reply quotes: its first preference that has a version."""
    by_name = {p.name: p for p in available}
    return next((by_name[n] for n in POLICIES[kind] if n in by_name), None)


def compose(kind: Situation, order: Order, policy: PolicyText | None) -> SupportReply:
    """The reply: the situation in words, then the policy's text as rendered in force."""
    opening = _opening(kind, order)
    if policy is None:
        return SupportReply(kind, opening, None, None)
    return SupportReply(kind, f"{opening}\n\n{policy.rendered}", policy.name, policy.version)


def reply(
    order: Order, returns: Sequence[Return], now: dt.datetime, available: Sequence[PolicyText]
) -> SupportReply:
    kind = situation(order, returns, now)
    return compose(kind, order, choose(kind, available))
