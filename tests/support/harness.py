"""The API in-process (httpx's ASGI transport, lifespan run by hand) on the real Redis and
PostgreSQL.

Each test gets an empty Redis database and empty tables, a manual clock (no sweeper: tests
expire holds by advancing the clock and sweeping), keys of every kind and the register
``till-1`` registered at S1.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from api import devices
from api.app import asgi, create_app
from api.auth import Scope
from api.keystore import create_key
from api.settings import Settings
from api.wiring import Services
from atp.clock import ManualClock
from engine.local import Engine
from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind


@dataclass
class Api:
    client: httpx.AsyncClient
    services: Services
    clock: ManualClock
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.services.engine

    def auth(self, kind: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[kind]}", **extra}

    async def call(
        self, method: str, path: str, kind: str = "admin", json: Any = None, **kw: Any
    ) -> httpx.Response:
        headers = {**self.auth(kind), **kw.pop("headers", {})}
        return await self.client.request(method, path, json=json, headers=headers, **kw)


ORDERS = [Scope.orders_read, Scope.orders_write]
# kind -> (scopes, locations); channels are each kind's default (api/keystore.py).
KINDS: dict[str, tuple[list[Scope], list[str]]] = {
    "admin": ([Scope.admin], []),
    "reader": ([Scope.availability_read], []),
    "stock": ([Scope.stock_write], []),
    "oms": ([Scope.availability_read, Scope.reservations_write], []),
    "pos": (
        [Scope.availability_read, Scope.stock_write, Scope.reservations_write, *ORDERS],
        ["S1"],
    ),
    "orders": ([Scope.availability_read, Scope.reservations_write, *ORDERS], []),
}


def settings_for(redis_url: str, pg_dsn: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "pg_dsn": pg_dsn,
        "auth_cache_ttl_s": 0.0,
        "rate_limit_per_s": 0.0,
        "run_sweeper": False,
        "environment": "development",
        # Reads from Redis: these tests read their own writes at once. The replica's reads
        # have their own tests (test_replica_reads.py).
        "replica": False,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: ManualClock) -> AsyncIterator[Api]:
    """The app with its lifespan running, a client on it, and a key of every kind."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://atp.test") as client:
            harness = Api(client, services, clock)
            async with services.pool.acquire() as conn:
                for kind, (scopes, locations) in KINDS.items():
                    _, key = await create_key(conn, scopes, locations, kind)
                    harness.keys[kind] = key
                await devices.register(conn, "till-1", "S1", "the first register", "tests")
            yield harness


@pytest.fixture
async def api(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    async with serving(settings_for(redis_url, pg_dsn), clock) as harness:
        yield harness


async def catalog(pool: asyncpg.Pool, locations: list[RoutingLocation]) -> None:
    """Routing's locations written into the PostgreSQL catalog the API reads."""
    for loc in locations:
        warehouse = loc.kind is LocationKind.warehouse
        await pool.execute(
            "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone, pickup,"
            " ship, ship_from_store, daily_pick_capacity, priority)"
            " VALUES ($1, $1, $2, $3, $4, 'UTC', $5, $6, $7, $8, $9)",
            loc.location,
            "warehouse" if warehouse else "store",
            loc.lat,
            loc.lon,
            Capability.pickup in loc.capabilities,
            Capability.ship in loc.capabilities,
            Capability.ship_from_store in loc.capabilities,
            loc.capacity_units,
            loc.priority,
        )


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["instance"] == response.headers["x-request-id"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


def field_of(body: Any) -> str:
    return str(body["errors"][0]["field"])
