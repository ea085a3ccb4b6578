"""The HTTP API on the durable engine: an acknowledged write is already in PostgreSQL."""

import asyncio

import asyncpg
import httpx
import pytest

from api.app import asgi, create_app
from api.auth import Scope
from api.keystore import create_key
from api.settings import Settings, SettingsError

READY_POLLS = 100


def test_production_refuses_to_run_without_postgresql() -> None:
    with pytest.raises(SettingsError, match="ATP_PG_DSN"):
        Settings(redis_url="redis://127.0.0.1:6379/12").validate()


async def test_an_acknowledged_adjustment_is_journaled(
    db: asyncpg.Pool, pg_dsn: str, jredis_url: str
) -> None:
    settings = Settings(redis_url=jredis_url, pg_dsn=pg_dsn, run_sweeper=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        _, key = await create_key(db, [Scope.stock_write, Scope.availability_read])
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://atp.test") as client:
            reply = await client.post(
                "/v1/stock/adjustments",
                json={"sku": "DUR-1", "location": "S1", "delta": 7, "reason": "receipt"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert reply.status_code == 200, reply.text
            # Ready once the ledger is whole and the replica (loading in the background) is in.
            for _ in range(READY_POLLS):
                ready = await client.get("/readyz")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert ready.status_code == 200, ready.text
            # While the ledger is missing or rebuilt, reads are refused too (not zeros).
            services.durability.healthy = False
            try:
                read = await client.get(
                    "/v1/availability/DUR-1?location=S1", headers={"Authorization": f"Bearer {key}"}
                )
                assert read.status_code == 503, read.text
                assert read.json()["type"] == "/problems/unavailable"
            finally:
                services.durability.healthy = True
    row = await db.fetchrow("SELECT on_hand FROM positions WHERE sku = 'DUR-1' AND location = 'S1'")
    assert row is not None and row["on_hand"] == 7
