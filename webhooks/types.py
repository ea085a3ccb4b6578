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

EVENT_TYPES: Final = frozenset({*POSITION_TYPES, *DERIVED_TYPES, RESET, ALERT_TRIGGERED})
