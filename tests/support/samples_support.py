"""Samples of the support routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in: order o-sup (picked up at
S1) and ticket t-sup about it. Only admin among the table's kinds has support scopes, and
customer data is never in a store's answer."""

from decimal import Decimal
from typing import Any

import asyncpg

from api.wiring import Services
from support.route_sample import DENIED, Sample, expect
from support.samples_returns import insert_order

SUPPORT_ONLY = expect(storefront=DENIED, register_a=DENIED, register_b=DENIED, oms=DENIED)
_TICKET = {"id": "t-new", "order_id": "o-sup", "topic": "late_pickup", "channel": "chat"}

SAMPLES: dict[str, Any] = {
    "supportLookup": Sample({}, query="q=o-sup", expect=SUPPORT_ONLY),
    "openSupportTicket": Sample({}, _TICKET, expect=SUPPORT_ONLY),
    "replySupportTicket": Sample(
        {"ticket_id": "t-sup"}, {"author": "agent", "body": "It is ready."}, expect=SUPPORT_ONLY
    ),
    "getSupportTicket": Sample({"ticket_id": "t-sup"}, expect=SUPPORT_ONLY),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """What these samples need beyond the shared world."""
    await insert_order(pool, "o-sup", "S1", [("A", 1, Decimal("10.00"))])
    await pool.execute(
        "INSERT INTO support_tickets (id, order_id, topic, channel, opened_at)"
        " VALUES ('t-sup', 'o-sup', 'late_pickup', 'chat', now())"
    )
