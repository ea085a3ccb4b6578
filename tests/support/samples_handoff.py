"""Samples of the cart handoff routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in (at store S1)."""

from typing import Any

import asyncpg

from api.wiring import Services
from orders import handoff
from reservations.model import Line
from support.route_sample import DENIED, Sample, expect

RESERVATION = "r-handoff"  # a held online reservation at S1 with a handoff code
CODE = "K7QX3M9P"
TYPED = "k7qx-3m9p"  # as an associate types it

# Reading and completing a code: a key selling at the counter of the code's store.
AT_COUNTER = expect(storefront=DENIED, oms=DENIED, register_b=DENIED)

# The first kind allowed completes the sale; the later ones get the same answer (200).
SAMPLES: dict[str, Any] = {
    "createHandoff": Sample({"id": RESERVATION}, expect=expect(register_b=DENIED)),
    "getHandoff": Sample({"code": TYPED}, expect=AT_COUNTER),
    "completeHandoff": Sample({"code": TYPED}, expect=AT_COUNTER),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """What these samples need beyond the shared world."""
    engine = services.engine
    held = await engine.reservations.reserve(RESERVATION, "online", [Line("A", "S1", 1)], 900)
    assert held.ok, held
    made = await handoff.create(pool, engine, RESERVATION, "tests", new_code=lambda: CODE)
    assert made.handoff is not None and made.handoff.code == CODE, made
