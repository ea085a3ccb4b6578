"""Before the day: a fresh database with the chain's catalog, the opening stock and safety
in Redis (through the engine, stamped by the day's clock; the journal consumer copies it
to PostgreSQL), and an admin key. Then, over HTTP once the engine serves: the prices and
the policy surfaces as the retailer's site, emails, receipts and macros publish them."""

import asyncio

import asyncpg
import httpx

from api.auth import Scope
from api.keystore import create_key
from atp.clock import Clock
from catalog.importer import store_locations
from durability.db import create_database
from durability.migrate import empty_tables, migrate
from engine.local import Engine
from simulation.chain import CURRENCY, Chain

WRITES_IN_FLIGHT = 200  # stock writes sent at once (the engine pipelines them)
SURFACES = ("site_snippet", "order_email", "receipt", "support_macro")
REFUND_DAYS = 5  # the morning's refunds policy; back_office tightens it at 13:00
REFUND_TEXT = "Your refund is started within {initiate_within_days} of the return reaching us."


async def database(dsn: str, chain: Chain) -> str:
    """Creates, migrates and empties the database, stores the catalog; an admin key."""
    await create_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await empty_tables(conn)  # but the policies the migrations seed
        await store_locations(conn, chain.locations)
        await conn.executemany("INSERT INTO skus (id) VALUES ($1)", [(s.id,) for s in chain.skus])
        return (await create_key(conn, [Scope.admin], [], "retail-day"))[1]
    finally:
        await conn.close()


async def ledger(redis_url: str, chain: Chain, clock: Clock) -> None:
    engine = Engine.connect(redis_url, clock)
    try:
        await engine.redis.command("FLUSHDB")
        groups = sorted({g for loc in chain.locations for g in loc.groups})
        for group in groups:  # as the catalog import defines them (a journaled event)
            members = [loc.id for loc in chain.locations if group in loc.groups]
            await engine.availability.define_group(group, members)
        writes = [
            engine.stock.set_on_hand(sku, location, qty, reason="opening count")
            for (sku, location), qty in chain.stock.items()
            if qty
        ] + [
            engine.stock.set_safety(sku, location, units)
            for (sku, location), units in chain.safety.items()
        ]
        for at in range(0, len(writes), WRITES_IN_FLIGHT):
            await asyncio.gather(*writes[at : at + WRITES_IN_FLIGHT])
    finally:
        await engine.close()


async def over_http(
    http: httpx.AsyncClient, chain: Chain, receiver_url: str
) -> dict[str, tuple[str, int]]:
    """Prices, the alerts' webhook, and every surface publishing its policy's current text
    (what each shows: surface -> (policy, version))."""
    for sku in chain.skus:
        body = {"list_price": str(sku.price), "currency": CURRENCY}
        (await http.put(f"/v1/prices/{sku.id}", json=body)).raise_for_status()
    # The migrations seed returns and pickup; the support macro quotes the refunds policy.
    refunds = {"terms": {"initiate_within_days": REFUND_DAYS}, "text": REFUND_TEXT}
    (await http.put("/v1/policies/refunds", json=refunds)).raise_for_status()
    hook = {"url": receiver_url, "types": ["alert.triggered"]}
    (await http.post("/v1/webhooks", json=hook)).raise_for_status()
    return {surface: await publish(http, surface) for surface in SURFACES}


async def publish(http: httpx.AsyncClient, surface: str) -> tuple[str, int]:
    """The surface now shows its policy's current version, as rendered: (policy, version)."""
    shown = (await http.get(f"/v1/policies/surfaces/{surface}/render")).raise_for_status().json()
    body = {
        "policy": shown["policy"],
        "published_version": shown["version"],
        "published_text": shown["text"],
    }
    (await http.put(f"/v1/policies/surfaces/{surface}", json=body)).raise_for_status()
    return str(shown["policy"]), int(shown["version"])
