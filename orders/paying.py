"""Confirm (payment captured: the hold is committed), cancel and no-show (whatever is
still held goes back), each a begun step finished by its ledger write."""

import functools

from durability.history import settle
from orders import store
from orders.core import LOST_RACES_MAX, ORDER_CANCELLED, ORDER_NO_SHOW, OrdersCore, busy, illegal
from orders.errors import Refusal
from orders.model import (
    CANCELLABLE,
    ENDED,
    State,
    op_id,
)
from orders.views import Order


class Paying(OrdersCore):
    async def confirm(self, order_id: str, actor: str) -> Order:
        """Payment captured: the hold is committed (no expiry from here). A retry, or two
        at once, answer the confirmed order."""
        for _ in range(LOST_RACES_MAX):
            async with self.pool.acquire() as conn:
                found = await self._must(conn, order_id)
                if found.pending_step is None and found.state is not State.placed:
                    if found.confirmed_at is not None and found.state not in ENDED:
                        return found  # a retry: confirmed before
                    raise illegal(found, "confirm")
                if found.pending_step is None:
                    now = self.now()
                    if not await store.begin(conn, order_id, "confirm", [State.placed], now):
                        continue  # another request began a step: look again
                elif found.pending_step != "confirm":
                    raise busy(order_id)
            return await self.finish_confirm(order_id, actor)
        raise busy(order_id)

    async def finish_confirm(self, order_id: str, actor: str) -> Order:
        async with self.pool.acquire() as conn:
            r = await store.row(conn, order_id)
        assert r is not None
        committed = await self._ledger(
            functools.partial(self.engine.reservations.commit, r["reservation_id"])
        )
        now = self.now()
        async with self.pool.acquire() as conn, conn.transaction():
            if committed.ok:
                if await store.finish(
                    conn, order_id, "confirm", State.confirmed, {"confirmed_at": now}
                ):
                    await store.record_step(conn, order_id, "confirmed", now, actor)
                return await self._must(conn, order_id)
            # Past holding (expired, or released by someone else): the order cannot be paid.
            if await store.finish(conn, order_id, "confirm", State.expired, {"expired_at": now}):
                await store.record_step(conn, order_id, "expired", now, actor)
            found = await self._must(conn, order_id)
        raise Refusal(
            409,
            "hold-expired",
            "The order's hold expired",
            f"order {order_id} was not paid within its hold ({self.hold_ttl_s} s): its units "
            "were released; place it again",
            state=found.state.value,
        )

    async def cancel(self, order_id: str, actor: str) -> Order:
        """Whatever is still held for the order goes back to availability."""
        for _ in range(LOST_RACES_MAX):
            async with self.pool.acquire() as conn:
                found = await self._must(conn, order_id)
                if found.pending_step is None:
                    if found.state is State.cancelled:
                        return found
                    if found.state not in CANCELLABLE:
                        raise illegal(found, "cancel")
                    now = self.now()
                    if not await store.begin(conn, order_id, "cancel", list(CANCELLABLE), now):
                        continue  # another request began a step: look again
                elif found.pending_step != "cancel":
                    raise busy(order_id)
            return await self.finish_release(order_id, "cancel", actor)
        raise busy(order_id)

    async def finish_release(self, order_id: str, step: str, actor: str) -> Order:
        """Cancel and no-show: release every open unit, then record the state."""
        async with self.pool.acquire() as conn:
            r = await store.row(conn, order_id)
        assert r is not None
        rid = r["reservation_id"]
        await self._ledger(
            functools.partial(
                settle,
                self.engine.reservations,
                self.pool,
                rid,
                "released",
                op_id=op_id(order_id, step),
            )
        )
        now = self.now()
        state, column, event = (
            (State.cancelled, "cancelled_at", ORDER_CANCELLED)
            if step == "cancel"
            else (State.no_show, "no_show_at", ORDER_NO_SHOW)
        )
        async with self.pool.acquire() as conn, conn.transaction():
            recorded = await store.finish(conn, order_id, step, state, {column: now})
            if recorded:
                await store.record_step(conn, order_id, state.value, now, actor)
            done = await self._must(conn, order_id)
            if recorded:
                await self._publish(conn, event, done)
        if done.location is not None:
            self.pickup.forget(done.location)
        return done
