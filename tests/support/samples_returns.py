"""Samples of the returns routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in (at store S1): an order
picked up at S1 with 5 of A delivered, and the return ret-1 of one unit taken there."""

import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from api.wiring import Services
from atp.clock import ManualClock, instant
from orders import returns
from orders.return_rules import ReturnLine, ReturnRequest
from support.route_sample import DENIED, Sample, expect

ORDER = "o-ret-1"
S1_ORDERS = expect(storefront=DENIED, register_b=DENIED)  # orders scope, at S1

_LINE = {"sku": "A", "qty": 1, "reason": "changed_mind", "condition": "new"}

SAMPLES: dict[str, Any] = {
    "createReturn": Sample(
        {},
        {"id": "ret-sample", "order_id": ORDER, "location": "S1", "lines": [_LINE]},
        expect=S1_ORDERS,
    ),
    "listReturns": Sample({}, query=f"order_id={ORDER}", expect=expect(storefront=DENIED)),
    "getReturn": Sample({"id": "ret-1"}, expect=S1_ORDERS),
    "refundReturn": Sample({"id": "ret-1"}, expect=S1_ORDERS),
}


# The migration's returns policy v1. tests/support/postgres.py empties every table before
# a test, the seeded policies too: put it back (a no-op while it is there).
RETURNS_V1 = (
    '{"window_days": 30, "conditions": ["new", "opened"],'
    ' "damaged_reasons": ["defective", "damaged_in_transit", "wrong_item"]}'
)


async def seed_policy(pool: asyncpg.Pool | asyncpg.Connection) -> None:
    await pool.execute(
        "INSERT INTO policies (name, version, terms, text, created_by)"
        " VALUES ('returns', 1, $1::jsonb, 'Return within 30 days.', 'tests')"
        " ON CONFLICT DO NOTHING",
        RETURNS_V1,
    )


async def insert_order(
    pool: asyncpg.Pool | asyncpg.Connection,
    order_id: str,
    location: str,
    lines: list[tuple[str, int, Decimal | None]],
    *,
    delivered_days_ago: float | None = 1.0,
    via: str = "picked_up",
    now: datetime.datetime | None = None,
) -> None:
    """An order delivered (picked up at ``location``, or shipped) ``delivered_days_ago``
    before ``now`` (default: where every test's manual clock starts), written straight into
    the tables (None: not delivered yet); lines (sku, qty, price)."""
    now = now or instant(ManualClock())
    at = None if delivered_days_ago is None else now - datetime.timedelta(days=delivered_days_ago)
    state = via if at is not None else "confirmed"
    await pool.execute(
        "INSERT INTO orders (id, channel, method, location, reservation_id, digest, state,"
        " order_received_at, picked_up_at, shipped_at)"
        " VALUES ($1, 'online', $2, $3, $4, 'd', $5, $6, $7, $8)",
        order_id,
        "pickup" if via == "picked_up" else "ship",
        location,
        "o-" + order_id,
        state,
        now - datetime.timedelta(days=(delivered_days_ago or 0) + 1),
        at if via == "picked_up" else None,
        at if via == "shipped" else None,
    )
    for no, (sku, qty, price) in enumerate(lines, 1):
        await pool.execute(
            "INSERT INTO order_lines (order_id, line_no, sku, qty, unit_price, delivered)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            order_id,
            no,
            sku,
            qty,
            price,
            qty if at is not None else 0,
        )


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """What these samples need beyond the shared world."""
    await seed_policy(pool)
    await insert_order(pool, ORDER, "S1", [("A", 5, Decimal("10.00"))])
    line = ReturnLine("A", 1, "changed_mind", "new")
    request = ReturnRequest("ret-1", ORDER, "S1", [line])
    await returns.create(pool, services.engine, services.durability, request, "tests")
