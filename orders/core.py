"""The order service: orders in PostgreSQL around holds in the ledger.

Every step that writes the ledger goes the same way, so that an order row and its
reservation never disagree for longer than the recovery sweep's grace:

1. the step is recorded as begun on the row (``pending_step``), or the step is refused;
2. the ledger write runs under an id derived from the order (its reservation id, an op
   id), so running it again is a duplicate, and it is durable before step 3;
3. the step is recorded done, conditionally on it still being begun.

A process killed between 1 and 3 leaves a begun step that orders/recovery.py runs again
(2 then 3). Steps without a ledger write (picking, staged, ready, arrived) are one
conditional update.
"""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import asyncpg
import msgspec

from atp.clock import Clock, instant
from durability.db import Conn
from durability.group_commit import Durability, acknowledged
from engine.protocol import LedgerEngine
from orders import store
from orders.errors import Refusal, not_found
from orders.limits import ORDER_HOLD_TTL_S_DEFAULT
from orders.pickup_inputs import PickupInputs
from orders.views import Order
from routing import model as routing
from routing.location_directory import LocationDirectory
from routing.pickload import PickLoad
from webhooks import outbox

R = TypeVar("R")

# Tries of a step that lost a race for its row (another request began or took a step
# between our read and our write) before answering busy: the second look sees the winner.
LOST_RACES_MAX: Final = 3


# Webhook event types this service publishes (webhooks/types.py lists them).
ORDER_PLACED: Final = "order.placed"
ORDER_READY: Final = "order.ready"
ORDER_PICKED_UP: Final = "order.picked_up"
ORDER_SHIPPED: Final = "order.shipped"
ORDER_CANCELLED: Final = "order.cancelled"
ORDER_NO_SHOW: Final = "order.no_show"


class OrdersCore:
    """What every part of the order service shares: its stores, the ledger write that
    returns once durable, reads, and the webhook each step publishes."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        engine: LedgerEngine,
        durability: Durability,
        directory: Callable[[], LocationDirectory | None],
        policy: routing.Policy,
        *,
        pickload: PickLoad | None = None,
        hold_ttl_s: int = ORDER_HOLD_TTL_S_DEFAULT,
    ) -> None:
        self.pool = pool
        self.engine = engine
        self.durability = durability
        self._directory = directory
        self._policy = policy
        self._pickload = pickload
        self.hold_ttl_s = hold_ttl_s
        self.pickup = PickupInputs()

    @property
    def clock(self) -> Clock:
        return self.engine.reservations.clock

    def now(self) -> dt.datetime:
        return instant(self.clock)

    async def _ledger(self, write: Callable[[], Awaitable[R]]) -> R:
        """A ledger write, returned once it is durable (step 2)."""
        return await acknowledged(self.durability, write)

    # -- reads --------------------------------------------------------------------------

    async def get(self, order_id: str) -> Order | None:
        async with self.pool.acquire() as conn:
            return await store.one(conn, order_id)

    async def _must(self, conn: Conn, order_id: str) -> Order:
        found = await store.one(conn, order_id)
        if found is None:
            raise not_found(order_id)
        return found

    # -- events -------------------------------------------------------------------------

    async def _publish(self, conn: Any, event: str, o: Order, **extra: Any) -> None:
        """A webhook to whoever tells the customer (an order's email and SMS service), in
        the step's own transaction."""
        data: dict[str, Any] = {
            "order_id": o.id,
            "state": o.state.value,
            "method": o.method.value,
            "location": o.location,
            "customer": msgspec.to_builtins(o.customer),
            "promised_at": None if o.promised_at is None else o.promised_at.isoformat(),
            "promise_text": o.promise_text,
            "bay": o.bay,
            **extra,
        }
        sku = o.lines[0].sku if len(o.lines) == 1 else ""
        await outbox.publish(conn, event, data, sku=sku, location=o.location or "")


def illegal(found: Order, action: str) -> Refusal:
    return Refusal(
        409,
        "order-state",
        f"Cannot {action} this order",
        f"order {found.id} is {found.state.value}",
        state=found.state.value,
    )


def busy(order_id: str) -> Refusal:
    return Refusal(
        409,
        "order-busy",
        "Another step is under way",
        f"order {order_id} has a step under way: retry in a moment",
        headers={"Retry-After": "1"},
    )
