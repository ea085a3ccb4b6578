"""The event types an endpoint may subscribe to: those of the changes feed (changes/,
migrations/0008_changes.sql) and those published directly (alerts)."""

from typing import Final

from atp.rules import SUPPLY_EVENTS

POSITION_TYPES: Final = (
    "adjusted",
    "counted",
    "safety_set",
    "reserved",
    "rolled_back",
    "expired",
    "released",
    "fulfilled",
    "reservation_moved",
    "pos_voided_ahead",
    *SUPPLY_EVENTS,
)
DERIVED_TYPES: Final = ("availability_changed", "went_unavailable", "back_in_stock", "low_stock")
RESET: Final = "reset"  # the ledger was rebuilt: re-read availability
ALERT_TRIGGERED: Final = "alert.triggered"  # alerts/ publishes it (webhooks.outbox.publish)

# orders/service.py publishes these, each in the transaction recording its step.
PRICE_CHANGED: Final = "price.changed"  # orders/prices.py publishes it with each version
ORDER_TYPES: Final = (
    "order.placed",
    "order.ready",
    "order.picked_up",
    "order.shipped",
    "order.cancelled",
    "order.no_show",
)

EVENT_TYPES: Final = frozenset(
    {*POSITION_TYPES, *DERIVED_TYPES, RESET, ALERT_TRIGGERED, *ORDER_TYPES, PRICE_CHANGED}
)
