"""The recovery sweep: an order row and its reservation never disagree for longer than
``RECOVERY_GRACE_S`` plus one round.

Each round, in every API process (two processes may both take a row: its ledger write is
idempotent and its recording conditional, so it happens once):

- a step begun longer than the grace ago (its process died, or its request is stuck) is
  run again from its ledger write: every ledger write of a step is idempotent under its
  reservation or op id, and its recording is conditional (orders/service.py);
- a placed order whose hold ran out is marked expired (the hold expired first: its units
  are back);
- a ready order not collected within the pickup policy's window is a no-show: its units
  are released;
- the begun steps of returns, transfers and cart handoffs are finished the same way.
"""

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import asyncpg

from orders import handoff, policies, returns, store, transfers
from orders.model import NO_SHOW_FROM, State
from orders.service import Orders
from reservations.model import TERMINAL
from reservations.model import State as HoldState

log = logging.getLogger(__name__)

RECOVERY_GRACE_S: Final = 30.0  # a step begun this long ago is finished by the sweep
RECOVERY_INTERVAL_S: Final = 5.0  # api/app.py runs a round this often (with the sweeper)
RECOVERY_BATCH: Final = 100  # rows looked at per kind and round
ACTOR: Final = "recovery"

_STALE_ORDERS = """
SELECT id, pending_step FROM orders
WHERE pending_step IS NOT NULL AND pending_since < $1 ORDER BY pending_since LIMIT $2
"""
_STALE_SHIPMENTS = """
SELECT order_id, id FROM shipments
WHERE state = 'pending' AND pending_since < $1 ORDER BY pending_since LIMIT $2
"""
_UNPAID = """
SELECT id, reservation_id FROM orders
WHERE state = 'placed' AND pending_step IS NULL AND order_received_at < $1
ORDER BY seq LIMIT $2
"""
_UNCOLLECTED = """
SELECT id FROM orders
WHERE state = ANY($1::text[]) AND pending_step IS NULL AND ready_at < $2
ORDER BY ready_at LIMIT $3
"""


class Sweep:
    def __init__(self, orders: Orders, grace_s: float = RECOVERY_GRACE_S) -> None:
        self.orders = orders
        self.grace_s = grace_s

    async def round(self) -> int:
        """One pass; how many rows it finished or moved."""
        done = await self.resume_begun()
        done += await self.expire_unpaid()
        done += await self.no_shows()
        o = self.orders
        for resume in (returns.resume_stale, transfers.resume_stale, handoff.resume_stale):
            done += await resume(o.pool, o.engine, o.durability, self.grace_s)
        return done

    async def resume_begun(self) -> int:
        o = self.orders
        before = o.now() - dt.timedelta(seconds=self.grace_s)
        rows = await o.pool.fetch(_STALE_ORDERS, before, RECOVERY_BATCH)
        finish: dict[str, Callable[[str, str], Awaitable[object]]] = {
            "create": lambda oid, _: o.place(oid),
            "confirm": o.finish_confirm,
            "cancel": lambda oid, actor: o.finish_release(oid, "cancel", actor),
            "no_show": lambda oid, actor: o.finish_release(oid, "no_show", actor),
            "picked_up": o.finish_picked_up,
        }
        done = 0
        for r in rows:
            done += await _guarded(finish[r["pending_step"]](r["id"], ACTOR), r["id"])
        for s in await o.pool.fetch(_STALE_SHIPMENTS, before, RECOVERY_BATCH):
            done += await _guarded(o.finish_shipment(s["order_id"], s["id"], ACTOR), s["order_id"])
        return done

    async def expire_unpaid(self) -> int:
        """Placed orders older than their hold: once the hold is over, the order is too."""
        o = self.orders
        now = o.now()
        before = now - dt.timedelta(seconds=o.hold_ttl_s)
        done = 0
        for r in await o.pool.fetch(_UNPAID, before, RECOVERY_BATCH):
            held = await o.engine.reservations.get(r["reservation_id"])
            if held is not None and held.state is HoldState.held:
                await o.engine.reservations.expire(r["reservation_id"])  # if past its deadline
                held = await o.engine.reservations.get(r["reservation_id"])
            if held is not None and held.state not in TERMINAL:
                continue  # still held (extended) or committed: not this sweep's to end
            async with o.pool.acquire() as conn, conn.transaction():
                moved = await store.set_state(
                    conn, r["id"], [State.placed], State.expired, {"expired_at": now}
                )
                if moved:
                    await store.record_step(conn, r["id"], "expired", now, ACTOR)
            done += moved
        return done

    async def no_shows(self) -> int:
        o = self.orders
        async with o.pool.acquire() as conn:
            pickup = await policies.in_force(conn, policies.PICKUP)
        window = dt.timedelta(hours=float(pickup.terms["collect_within_hours"]))
        now = o.now()
        rows = await o.pool.fetch(
            _UNCOLLECTED, [s.value for s in NO_SHOW_FROM], now - window, RECOVERY_BATCH
        )
        done = 0
        for r in rows:
            async with o.pool.acquire() as conn:
                begun = await store.begin(conn, r["id"], "no_show", list(NO_SHOW_FROM), now)
            if begun:
                done += await _guarded(o.finish_release(r["id"], "no_show", ACTOR), r["id"])
        return done


async def _guarded(step: Awaitable[object], order_id: str) -> int:
    """One row's recovery: a failure is logged and left for the next round."""
    try:
        await step
    except (asyncpg.PostgresError, OSError, ConnectionError) as exc:
        log.warning("recovery of order %s failed, retried next round: %s", order_id, exc)
        return 0
    except Exception as exc:  # a refusal (e.g. the stock is gone): the step recorded it
        log.info("recovery of order %s ended with %s", order_id, exc)
        return 1
    return 1
