"""The store's pickup work: an associate's steps, each recorded once with its time; the
hand-over fulfills the units."""

import functools
from typing import Any, Final

from durability.history import settle
from orders import order_lines, store
from orders.core import LOST_RACES_MAX, ORDER_PICKED_UP, ORDER_READY, OrdersCore, busy
from orders.errors import Refusal
from orders.model import (
    AT_STORE,
    STEP_FROM,
    STEP_TIME_COLUMN,
    State,
    Step,
    StepVerdict,
    judge_step,
    op_id,
)
from orders.views import Order

HAND_OVER: Final = object()  # _step's answer: the hand-over is begun


class PickupWork(OrdersCore):
    async def step(self, order_id: str, step: Step, actor: str, bay: str | None = None) -> Order:
        """An associate's step on a pickup order, recorded once with its time. Two
        associates pressing it at once: one records it, the other answers it as recorded."""
        for _ in range(LOST_RACES_MAX):
            done = await self._step(order_id, step, actor, bay)
            if done is HAND_OVER:
                # Outside _step's connection: the ledger write waits for the journal's
                # flush, which needs a connection of the same pool.
                return await self.finish_picked_up(order_id, actor)
            if isinstance(done, Order):
                return done
        raise busy(order_id)

    async def _step(
        self, order_id: str, step: Step, actor: str, bay: str | None
    ) -> Order | object | None:
        """The order after the step; None: another request changed the order between our
        read and our write; HAND_OVER: the hand-over is begun, to be finished."""
        async with self.pool.acquire() as conn:
            found = await self._must(conn, order_id)
            if found.method not in AT_STORE:
                raise Refusal(
                    409,
                    "not-a-pickup-order",
                    "Not a pickup order",
                    f"order {order_id} is a {found.method} order: it has no pickup steps",
                )
            if step is Step.picked_up and found.pending_step == "picked_up":
                return HAND_OVER
            taken = any(s.step == step.value for s in found.steps)
            verdict = judge_step(found.state, step, taken)
            if verdict is StepVerdict.duplicate:
                return found
            if verdict is StepVerdict.out_of_order or found.pending_step is not None:
                raise _out_of_order(found, step)
            now = self.now()
            if step is Step.picked_up:
                if not await store.begin(conn, order_id, "picked_up", list(STEP_FROM[step]), now):
                    return None
                return HAND_OVER
            values: dict[str, Any] = {STEP_TIME_COLUMN[step]: now}
            if step is Step.arrived:
                values["bay"] = bay
            async with conn.transaction():
                if not await store.set_state(
                    conn, order_id, list(STEP_FROM[step]), State(step.value), values
                ):
                    return None
                detail = None if bay is None else {"bay": bay}
                await store.record_step(conn, order_id, step.value, now, actor, detail)
                done = await self._must(conn, order_id)
                if step is Step.ready:
                    await self._publish(conn, ORDER_READY, done)
        if step is Step.staged and done.location is not None:
            self.pickup.forget(done.location)
        return done

    async def finish_picked_up(self, order_id: str, actor: str) -> Order:
        """The customer has the units: they leave on hand (the hold is fulfilled)."""
        async with self.pool.acquire() as conn:
            r = await store.row(conn, order_id)
        assert r is not None
        rid = r["reservation_id"]
        done = await self._ledger(
            functools.partial(
                settle,
                self.engine.reservations,
                self.pool,
                rid,
                "fulfilled",
                op_id=op_id(order_id, "picked_up"),
            )
        )
        if not done.ok:
            async with self.pool.acquire() as conn:
                await store.abandon(conn, order_id, "picked_up")
            raise Refusal(
                409,
                "fulfill-refused",
                "The units could not be handed over",
                f"the ledger refused the hand-over ({done.result}): {done.detail}; "
                "count the shelf and resolve it in the attention list",
            )
        now = self.now()
        async with self.pool.acquire() as conn, conn.transaction():
            values = {"picked_up_at": now}
            recorded = await store.finish(conn, order_id, "picked_up", State.picked_up, values)
            if recorded:
                units: dict[str, int] = {}
                for ln in await order_lines.line_rows(conn, order_id):
                    units[ln["sku"]] = units.get(ln["sku"], 0) + ln["qty"]
                await order_lines.deliver(conn, order_id, units)
                await store.record_step(conn, order_id, "picked_up", now, actor)
            handed = await self._must(conn, order_id)
            if recorded:
                await self._publish(conn, ORDER_PICKED_UP, handed)
            return handed


def _out_of_order(found: Order, step: Step) -> Refusal:
    allowed = ", ".join(sorted(s.value for s in STEP_FROM[step]))
    return Refusal(
        409,
        "step-out-of-order",
        "Step out of order",
        f"{step.value} follows {allowed}; order {found.id} is {found.state.value}",
        state=found.state.value,
    )
