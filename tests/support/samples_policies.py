"""Samples of the policies routes for the route table (support/routes_table.py): each route
with its request and who may make it, and the world they act in (at store S1).

Policy texts are public (availability:read, every kind of key reads them); saving a
version, recording a surface and the audit take catalog:write, which among the kinds only
admin has (policies are chain-wide: a key bound to stores never writes them either). The
seeded pickup version 1 is all they need."""

from typing import Any

import asyncpg

from api.wiring import Services
from support.route_sample import DENIED, Sample, expect

EVERYONE = expect()
CATALOG = expect(storefront=DENIED, register_a=DENIED, register_b=DENIED, oms=DENIED)

_REFUNDS = {
    "terms": {"initiate_within_days": 14},
    "text": "Refunds start within {initiate_within_days} of the return.",
}
_EMAIL = {
    "policy": "pickup",
    "published_version": 1,
    "published_text": "We hold your order for 72 hours after it is ready.",
}

SAMPLES: dict[str, Any] = {
    "savePolicy": Sample({"name": "refunds"}, _REFUNDS, expect=CATALOG),
    "getPolicy": Sample({"name": "pickup"}, query="version=1", expect=EVERYONE),
    "listPolicies": Sample({}, expect=EVERYONE),
    "publishPolicySurface": Sample({"surface": "order_email"}, _EMAIL, expect=CATALOG),
    "renderPolicySurface": Sample({"surface": "order_email"}, expect=EVERYONE),
    "auditPolicySurfaces": Sample({}, expect=CATALOG),
}


async def arrange(services: Services, pool: asyncpg.Pool) -> None:
    """Nothing beyond the shared world: the migration seeds pickup and returns."""
