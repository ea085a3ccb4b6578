"""Samples of the prices routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in (at store S1).

Only admin among the key kinds has catalog:write (a store-bound catalog key is refused by
the chain-wide lane: tests/orders/test_prices.py); reading a price is anyone's."""

from typing import Any

import asyncpg

from api.wiring import Services
from atp.clock import ManualClock, instant
from orders import prices
from orders.price_rules import check
from support.route_sample import DENIED, KEY_KINDS, OK, Sample, expect

ADMIN = dict.fromkeys(KEY_KINDS, DENIED) | {"admin": OK}
EVERYONE = expect()

SAMPLES: dict[str, Any] = {
    "setPrice": Sample({"sku": "A"}, {"list_price": "249.00", "currency": "NOK"}, expect=ADMIN),
    "getPrice": Sample({"sku": "A"}, expect=EVERYONE),
    "getPriceHistory": Sample({"sku": "A"}, query="limit=5", expect=EVERYONE),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """What these samples need beyond the shared world: a price for A."""
    async with pool.acquire() as conn:
        await prices.save(conn, "A", check("199.00", "NOK"), "tests", instant(ManualClock()))
