"""The page's world: the order tests' stores (S1 pickup, S2, S3, W1), stock of A and B,
a pickup order at S1 paid for and waiting to be picked, and a signed-in browser-less
client (httpx keeps the session cookie)."""

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx

from api import devices
from api.app import asgi
from api.keystore import create_key
from api.wiring import Services
from atp.clock import ManualClock
from support.harness import KINDS, Api, catalog, settings_for
from support.order_world import HOURS, LOCATIONS, pickup
from ui.served import create_served_app

STOCK = [("A", "S1", 10), ("A", "S2", 4), ("A", "W1", 100), ("B", "W1", 5)]
ORDER = "web-ui-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def seed_catalog(pool: asyncpg.Pool) -> None:
    await catalog(pool, LOCATIONS)
    await pool.execute(
        "UPDATE locations SET opening_hours = $1::jsonb, time_zone = 'Europe/Oslo'"
        " WHERE id IN ('S1', 'S2')",
        HOURS,
    )


async def keys(pool: asyncpg.Pool) -> dict[str, str]:
    made = {}
    async with pool.acquire() as conn:
        for kind, (scopes, locations) in KINDS.items():
            _, made[kind] = await create_key(conn, scopes, locations, kind)
        await devices.register(conn, "till-1", "S1", "the first register", "tests")
    return made


async def place_order(client: httpx.AsyncClient, admin: str, order_id: str = ORDER) -> None:
    """A pickup order at S1, confirmed (paid): the store's to pick."""
    auth = {"Authorization": f"Bearer {admin}"}
    r = await client.post("/v1/orders", json=pickup(order_id), headers=auth)
    assert r.status_code == 201, r.text
    r = await client.post(f"/v1/orders/{order_id}/confirm", headers=auth)
    assert r.status_code == 200, r.text


@contextlib.asynccontextmanager
async def page_app(redis_url: str, pg_dsn: str, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    """The served app (API + page) in-process, the world seeded, keys of every kind."""
    await seed_catalog(pool)
    clock = ManualClock()
    app = create_served_app(settings_for(redis_url, pg_dsn), clock)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://atp.test") as client:
            api = Api(client, services, clock, await keys(services.pool))
            for sku, location, qty in STOCK:
                await api.engine.stock.adjust(sku, location, qty, "receipt")
            yield api


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, next_page: str = "/ui/") -> Any:
    form = await client.get("/ui/sign-in", params={"next": next_page})
    token = csrf_of(form.text)
    return await client.post(
        "/ui/sign-in", data={"csrf_token": token, "api_key": key, "next": next_page}
    )
