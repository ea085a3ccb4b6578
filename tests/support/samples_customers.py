"""Samples of the customers routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in: customers cus-s1 (an
order at S1 by kari@example.no) and cus-s2, to merge into it. Only admin among the table's
kinds has support scopes, and customer data is never in a store's answer."""

from typing import Any

import asyncpg

from api.wiring import Services
from support.route_sample import DENIED, Sample, expect

SUPPORT_ONLY = expect(storefront=DENIED, register_a=DENIED, register_b=DENIED, oms=DENIED)

SAMPLES: dict[str, Any] = {
    "lookupCustomers": Sample({}, query="email=kari@example.no", expect=SUPPORT_ONLY),
    "getCustomer": Sample({"customer_id": "cus-s1"}, expect=SUPPORT_ONLY),
    "mergeCustomer": Sample({"customer_id": "cus-s1"}, {"other": "cus-s2"}, expect=SUPPORT_ONLY),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """What these samples need beyond the shared world."""
    await pool.execute(
        "INSERT INTO customers (id, name) VALUES ('cus-s1', 'Kari'), ('cus-s2', NULL)"
    )
    await pool.execute(
        "INSERT INTO customer_identities (kind, value, customer_id) VALUES"
        " ('email', 'kari@example.no', 'cus-s1'), ('phone', '+4791234567', 'cus-s2')"
    )
