"""One table of every operation: a sample request and which kinds of key may make it.

Shared by the authorization matrix (api/test_authorization.py) and the durability walk
(api/test_every_write_durable.py). A route missing here fails both: a new route cannot slip
past the lane and durability rules untested.

Every sample acts at store S1 (A's store) on the world ``arrange`` builds, so a register
bound to S1 may and one bound to S2 may not.
"""

from typing import Any

import asyncpg

from api import devices
from api.auth import Scope
from api.keystore import create_key
from api.wiring import Services
from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind
from support import (
    samples_as_of,
    samples_customers,
    samples_handoff,
    samples_kpis,
    samples_orders,
    samples_policies,
    samples_prices,
    samples_returns,
    samples_support,
    samples_transfers,
)
from support.harness import catalog
from support.route_sample import DENIED, KEY_KINDS, OK, Sample, expect

STORE = frozenset({Capability.pickup, Capability.ship_from_store})
LOCATIONS = [
    RoutingLocation("S1", LocationKind.store, STORE, 59.91, 10.75, 100),
    RoutingLocation("S2", LocationKind.store, STORE, 59.95, 10.80, 100),
]


def _channel(kind: str) -> str:
    return "store" if kind.startswith("register") else "online"


def _line(qty: int = 1) -> dict[str, Any]:
    return {"sku": "A", "location": "S1", "qty": qty}


def _register_batch(kind: str) -> dict[str, Any]:
    event = {"type": "sale", "event_id": f"e-{kind}", "device_seq": len(kind)}
    # A customer and a price: the sale is recorded in PostgreSQL before the answer.
    sold = {"customer": {"email": "kari@example.no"}, "unit_price": "10.00"}
    return {"events": [{**event, "occurred_at": "2026-12-03T10:00:00Z", **_line(), **sold}]}


EVERYONE = expect()
RESERVING = expect(register_b=DENIED)  # acts on S1's stock or reservations
STOCK = expect(storefront=DENIED, oms=DENIED, register_b=DENIED)
STOCK_READ = expect(storefront=DENIED, oms=DENIED)
ADMIN = dict.fromkeys(KEY_KINDS, DENIED) | {"admin": OK}
_SUPPLY = {"sku": "A", "location": "S1"}
_ALERT_SIGN_UP = {
    "contact": {"email": "kari@example.no"},
    "consent": {"given": True, "at": "2026-12-03T10:00:00Z", "source": "tests"},
    **_SUPPLY,
}

SAMPLES: dict[str, Sample] = {
    "reserve": Sample({}, lambda k: {"channel": _channel(k), "lines": [_line()]}, expect=RESERVING),
    "listReservations": Sample({}, expect=EVERYONE),
    "getReservation": Sample({"id": "r-s1"}, expect=RESERVING),
    "extendReservation": Sample({"id": "r-s1"}, {"ttl_seconds": 600}, expect=RESERVING),
    "commitReservation": Sample({"id": "r-s1"}, expect=RESERVING),
    "fulfillReservation": Sample({"id": "r-s1"}, {"lines": [_line()]}, expect=RESERVING),
    "releaseReservation": Sample({"id": "r-s1"}, expect=RESERVING),
    "getAvailability": Sample({"sku": "A"}, query="location=S1&location=S2", expect=EVERYONE),
    "queryAvailability": Sample({}, {"skus": ["A"], "locations": ["S1", "S2"]}, expect=EVERYONE),
    "getPromise": Sample({"sku": "A"}, query="qty=1&location=S1", expect=EVERYONE),
    "adjustStock": Sample({}, {**_SUPPLY, "delta": 1, "reason": "receipt"}, expect=STOCK),
    "countStock": Sample(
        {"sku": "A", "location": "S1"}, {"on_hand": 12, "reason": "cycle_count"}, expect=STOCK
    ),
    "setSafety": Sample({"sku": "A", "location": "S1"}, {"safety": 1}, expect=STOCK),
    "getStockHistory": Sample({"sku": "A", "location": "S1"}, query="limit=5", expect=STOCK),
    "addIncoming": Sample(
        {}, {**_SUPPLY, "qty": 5, "expected_at": "2026-12-20", "supply_id": "po-2"}, expect=STOCK
    ),
    "receiveIncoming": Sample({"supply_id": "po-1"}, {**_SUPPLY, "qty": 1}, expect=STOCK),
    "cancelIncoming": Sample({"supply_id": "po-1"}, _SUPPLY, expect=STOCK),
    "redateIncoming": Sample(
        {"supply_id": "po-1"}, {**_SUPPLY, "expected_at": "2026-12-24"}, expect=STOCK
    ),
    "replayPosEvents": Sample({"device_id": "till-1"}, _register_batch, expect=STOCK),
    "registerDevice": Sample({"device_id": "till-1"}, {"location": "S1"}, expect=STOCK),
    "getDevice": Sample({"device_id": "till-1"}, expect=STOCK_READ),
    "listDevices": Sample({}, expect=STOCK_READ),
    "planRouting": Sample(
        {},
        {"lines": [{"sku": "A", "qty": 1}], "method": {"type": "ship", "lat": 59.9, "lon": 10.7}},
        expect=EVERYONE,
    ),
    "allocateRouting": Sample(
        {},
        lambda k: {
            "lines": [{"sku": "A", "qty": 1}],
            "method": {"type": "ship", "lat": 59.9, "lon": 10.7},
            "channel": _channel(k),
        },
        expect=expect(register_a=DENIED, register_b=DENIED),  # routing picks any store
    ),
    "getNearby": Sample({"sku": "A"}, query="lat=59.9&lon=10.7&radius_km=50", expect=EVERYONE),
    "listLocations": Sample({}, query="kind=store", expect=EVERYONE),
    "getLocation": Sample({"location": "S2"}, expect=EVERYONE),  # any store's, bound or not
    "listAttention": Sample({}, expect=EVERYONE),
    "resolveAttention": Sample({}, {"reservation_id": "r-s1", **_SUPPLY}, expect=RESERVING),
    "streamChanges": Sample({}, query="sku=A&location=S1&timeout_s=0.05", expect=EVERYONE),
    "setLowStockThreshold": Sample({}, {**_SUPPLY, "threshold": 2}, expect=STOCK),
    "listLowStockThresholds": Sample({}, query="sku=A", expect=EVERYONE),
    # Back-in-stock alerts: only admin among these kinds has alerts:write (a store-bound
    # alerts key's lane is tested in tests/alerts/test_alerts_api.py).
    "subscribeAlert": Sample({}, _ALERT_SIGN_UP, expect=ADMIN),
    "getAlertSubscription": Sample({"subscription_id": "sub-none"}, expect=ADMIN),
    "unsubscribeAlert": Sample({"subscription_id": "sub-none"}, expect=ADMIN),
    "unsubscribeAlertByToken": Sample({}, {"token": "no-such-token"}, expect=ADMIN),
    "recordAlertOpened": Sample({"send_id": "snd-none"}, expect=ADMIN),
    "getAlertStats": Sample({}, query="sku=A", expect=ADMIN),
    "createKey": Sample({}, {"scopes": ["availability:read"], "name": "made"}, expect=ADMIN),
    "listKeys": Sample({}, expect=ADMIN),
    "revokeKey": Sample({"key_id": "000000000000"}, expect=ADMIN),
    # Webhooks: only admin among these kinds has webhooks:write. A global address literal:
    # registration resolves the URL (SSRF) and the tests have no DNS.
    "createWebhook": Sample(
        {}, {"url": "https://93.184.215.14/hooks", "types": ["back_in_stock"]}, expect=ADMIN
    ),
    "listWebhooks": Sample({}, expect=ADMIN),
    "deleteWebhook": Sample({"webhook_id": "wh_none"}, expect=ADMIN),
    "listWebhookDeliveries": Sample({"webhook_id": "wh_none"}, query="state=dead", expect=ADMIN),
    "retryWebhookDelivery": Sample(
        {"webhook_id": "wh_none", "delivery_id": "msg_c1"}, expect=ADMIN
    ),
}
# The later parts' routes, each part's samples beside its own world (tests/support/).
PARTS = (
    samples_orders,
    samples_returns,
    samples_transfers,
    samples_handoff,
    samples_policies,
    samples_prices,
    samples_customers,
    samples_as_of,
    samples_support,
    samples_kpis,
)
for _part in PARTS:
    assert not SAMPLES.keys() & _part.SAMPLES.keys(), "an operation sampled twice"
    SAMPLES.update(_part.SAMPLES)


def path_of(template: str, sample: Sample) -> str:
    path = template.format(**sample.params)
    return f"{path}?{sample.query}" if sample.query else path


async def arrange(services: Services, pool: asyncpg.Pool) -> dict[str, str]:
    """The world every sample acts in; returns a key of every kind (none: no header)."""
    engine = services.engine
    await catalog(pool, LOCATIONS)
    for location in ("S1", "S2"):
        await engine.stock.adjust("A", location, 50, "receipt")
        await engine.stock.add_incoming("A", location, "po-1", 10, _day())
    from reservations.model import Line

    for rid, location in (("r-s1", "S1"), ("r-s2", "S2")):
        held = await engine.reservations.reserve(rid, "online", [Line("A", location, 2)], 900)
        assert held.ok, held
    found: dict[str, str] = {"none": ""}
    async with pool.acquire() as conn:
        await devices.register(conn, "till-1", "S1", "", "tests")
        await devices.register(conn, "till-2", "S2", "", "tests")
        for kind, (scopes, locations) in KEY_KINDS.items():
            found[kind] = (await create_key(conn, scopes, locations, kind))[1]
        revoked = (await create_key(conn, [Scope.admin], [], "revoked"))[1]
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'revoked'")
    found["revoked"] = revoked
    for part in PARTS:
        await part.arrange(services, pool)
    return found


def _day() -> Any:
    import datetime

    return datetime.date(2026, 12, 20)
