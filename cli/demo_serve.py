"""``atp serve --demo``: the demo chain (catalog.demo_retailer: catalog in PostgreSQL, stock written
durably), a key per client kind, and a banner whose commands work as pasted.

The chain is loaded once: a restart keeps what the previous run did (holds, sales, counts)
unless ``--reset`` asks for the demo's stock again; the banner says which happened.
"""

import json
import shlex
from dataclasses import dataclass

from api import devices
from api.auth import Scope
from api.keystore import create_key
from catalog import demo_retailer
from durability.db import create_pool


@dataclass(frozen=True)
class DemoChain:
    """Ids of the one demo chain (catalog.demo_retailer.build_catalog), used by every example."""

    store: str  # the demo register's store
    sku: str  # rank 1: the top seller, stocked everywhere
    group: str  # the Oslo stores
    warehouse: str
    register: str  # a register (POS device) registered at the store


DEMO = DemoChain("ST-001", "SKU-000001", "oslo-stores", "WH-BERGER", "till-ST-001")
STOREFRONT = "storefront"
DEMO_ORDER = "demo-order-1"  # the banner's pickup order (placing it again answers it)


@dataclass(frozen=True)
class Prepared:
    chain: DemoChain
    keys: dict[str, str]  # client kind -> key
    loaded: bool  # False: the previous run's state was kept


COUNTER = [Scope.availability_read, Scope.stock_write, Scope.reservations_write]


def client_kinds(store: str) -> dict[str, tuple[list[Scope], list[str]]]:
    return {
        STOREFRONT: ([Scope.availability_read, Scope.reservations_write], []),
        f"pos ({store})": (
            [*COUNTER, Scope.orders_read, Scope.orders_write],
            [store],
        ),
        "oms": ([*COUNTER, Scope.orders_read, Scope.orders_write], []),
        "admin": ([Scope.admin], []),
    }


async def prepare(redis_url: str, pg_dsn: str, reset: bool) -> Prepared:
    """Loads the chain unless PostgreSQL has it already (or ``reset``), then makes keys."""
    loaded = await demo_retailer.ensure_demo(pg_dsn, redis_url, reset) is not None
    pool = await create_pool(pg_dsn, 1)
    try:
        async with pool.acquire() as conn:
            await devices.register(conn, DEMO.register, DEMO.store, "demo register", "demo")
            keys = {
                kind: (await create_key(conn, scopes, locations, f"demo {kind}"))[1]
                for kind, (scopes, locations) in client_kinds(DEMO.store).items()
            }
    finally:
        await pool.close()
    return Prepared(DEMO, keys, loaded)


def _curl(key: str, url: str, body: object | None = None, stream: bool = False) -> str:
    words = ["curl", "-sS", *(["-N"] if stream else []), "-H", f"Authorization: Bearer {key}"]
    if body is not None:
        words += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    return shlex.join([*words, url])


def banner(url: str, prepared: Prepared) -> list[str]:
    chain, storefront = prepared.chain, prepared.keys[STOREFRONT]
    if prepared.loaded:
        state = (
            "loaded the demo chain: stores ST-001..ST-020 (Oslo area), warehouses WH-BERGER and"
            f" WH-LANGHUS, SKU-000001..SKU-005000 by popularity, group {chain.group}"
        )
    else:
        state = "kept the previous run's stock and reservations (--reset loads the demo's again)"
    hold = {
        "channel": "online",
        "ttl_seconds": 600,
        "lines": [{"sku": chain.sku, "location": chain.warehouse, "qty": 1}],
    }
    order = {
        "id": DEMO_ORDER,
        "method": "pickup",
        "location": chain.store,
        "customer": {"email": "kari@example.no", "name": "Kari"},
        "lines": [{"sku": chain.sku, "qty": 1}],
    }
    lines = [f"demo      {state}"]
    lines += [f"demo key  {kind:<16} {key}" for kind, key in prepared.keys.items()]
    lines.append(
        f"sign in   {url}/ui/ with the admin key (every store), or the pos key: "
        f"{chain.store}'s pickup queue only"
    )
    register_key = next(key for kind, key in prepared.keys.items() if kind.startswith("pos"))
    sale = {
        "events": [
            {"type": "sale", "event_id": "demo-sale-1", "device_seq": 1,
             "occurred_at": "2026-12-03T10:00:00Z", "sku": chain.sku, "location": chain.store,
             "qty": 1}
        ]
    }  # fmt: skip
    lines += [
        f"try       {_curl(storefront, f'{url}/v1/availability/{chain.sku}?group={chain.group}')}",
        f"hold      {_curl(storefront, f'{url}/v1/reservations', hold)}",
        f"sell      {_curl(register_key, f'{url}/v1/pos/{chain.register}/events', sale)}",
        f"follow    {_curl(storefront, f'{url}/v1/changes?sku={chain.sku}', stream=True)}",
        f"order     {_curl(prepared.keys['oms'], f'{url}/v1/orders', order)}",
        f"pickups   {_curl(register_key, f'{url}/v1/stores/{chain.store}/pickups')}",
        "          (in another terminal before the hold and the sale: each change as it"
        " happens, then availability_changed per store and for the group)",
        "          (the order's pickup promise is in its answer; /confirm it, then the store"
        f" presses /v1/orders/{DEMO_ORDER}/pickup/staged, ready, picked_up with the pos key)",
        "          (the hold's id: GET, /commit or /release it under /v1/reservations/{id};"
        f" the pos key writes stock at {chain.store} only; every route: {url}/docs)",
    ]
    return lines
