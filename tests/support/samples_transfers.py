"""Samples of the transfers routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in (at store S1).

A transfer is confined to its sender to send and cancel, to its receiver to receive, and
to either end to read: so the receive sample's transfer comes from S2 into S1, and a
register bound to S2 may read a transfer from S1 to S2 (it touches its store)."""

import datetime
from typing import Any

import asyncpg

from api.wiring import Services
from orders.transfer_rules import Spec, TransferResult
from orders.transfers import Transfers
from support.route_sample import DENIED, Sample, expect

STOCK = expect(storefront=DENIED, oms=DENIED, register_b=DENIED)
_DAY = datetime.date(2026, 12, 20)
_NEW = {"id": "t-new", "sku": "A", "from": "S1", "to": "S2", "qty": 1, "expected_on": "2026-12-20"}

SAMPLES: dict[str, Any] = {
    "createTransfer": Sample({}, _NEW, expect=STOCK),
    "listTransfers": Sample({}, query="location=S1", expect=STOCK),
    # Either end may read it: S2's register too.
    "getTransfer": Sample({"transfer_id": "t-out"}, expect=expect(storefront=DENIED, oms=DENIED)),
    "receiveTransfer": Sample(
        {"transfer_id": "t-in"}, {"qty": 1, "receipt_id": "rc-1"}, expect=STOCK
    ),
    "cancelTransfer": Sample({"transfer_id": "t-out"}, expect=STOCK),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """t-out from S1 to S2 (read, cancelled), t-in from S2 to S1 (received)."""
    transfers = Transfers(pool, services.engine, services.durability)
    for tid, sender, receiver in (("t-out", "S1", "S2"), ("t-in", "S2", "S1")):
        made = await transfers.create(Spec(tid, "A", sender, receiver, 2, _DAY), "tests")
        assert made.result is TransferResult.created, made
