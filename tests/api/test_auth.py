"""API keys: 401 without a valid one, 403 for a missing scope or another store."""

import asyncpg
import httpx
import pytest

from api.app import asgi, create_app
from api.auth import Scope
from api.keystore import create_key, revoke_key
from api.settings import SettingsError, from_env
from support.harness import Api, assert_problem, settings_for

AVAIL = "/v1/availability/A?location=S1"
ADJUST = "/v1/stock/adjustments"


def adjustment(location: str = "S1") -> dict[str, object]:
    return {"sku": "A", "location": location, "delta": 1, "reason": "receipt"}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer nonsense",
        "Basic abc",
        "Bearer atp_deadbeef0000_secret",
        "Bearer atp__x",
    ],
)
async def test_missing_or_wrong_key_is_401(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = await api.client.get(AVAIL, headers=headers)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_key_with_the_wrong_secret_is_401(api: Api) -> None:
    prefix = api.keys["admin"].rsplit("_", 1)[0]
    r = await api.client.get(AVAIL, headers={"Authorization": f"Bearer {prefix}_wrong"})
    assert_problem(r, 401)


async def test_keys_are_stored_hashed_in_postgresql(api: Api) -> None:
    key = api.keys["admin"]
    row = await api.services.pool.fetchrow(
        "SELECT * FROM api_keys WHERE key_id = $1", key.split("_")[1]
    )
    assert row is not None
    assert all(key.split("_", 2)[2] not in str(v) for v in dict(row).values())


async def test_revoked_key_is_401(api: Api) -> None:
    assert (await api.call("GET", AVAIL, "reader")).status_code == 200
    assert await revoke_key(api.services.pool, api.keys["reader"])
    assert_problem(await api.call("GET", AVAIL, "reader"), 401)


async def test_wrong_scope_is_403(api: Api) -> None:
    r = await api.call("POST", ADJUST, "reader", json=adjustment())
    assert_problem(r, 403, "scope-missing")
    assert_problem(await api.call("GET", AVAIL, "stock"), 403)
    body = {"channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": 1}]}
    assert_problem(await api.call("POST", "/v1/reservations", "stock", json=body), 403)
    assert (await api.engine.availability.position("A", "S1")).on_hand == 0


async def test_store_key_writes_only_at_its_store_but_reads_anywhere(api: Api) -> None:
    assert (await api.call("POST", ADJUST, "pos", json=adjustment("S1"))).status_code == 200
    assert_problem(await api.call("POST", ADJUST, "pos", json=adjustment("S2")), 403)
    r = await api.call("GET", "/v1/availability/A?location=S2", "pos")
    assert r.status_code == 200
    r = await api.call("PUT", "/v1/stock/A/S2", "pos", json={"on_hand": 3, "reason": "count"})
    body = assert_problem(r, 403, "location-not-allowed")
    assert "S1" in body["detail"] and "S2" in body["detail"]
    body = {"channel": "store", "lines": [{"sku": "A", "location": "S2", "qty": 1}]}
    assert_problem(await api.call("POST", "/v1/reservations", "pos", json=body), 403)


async def test_store_key_cannot_settle_another_stores_reservation(api: Api) -> None:
    await api.engine.stock.adjust("A", "S2", 5, "receipt")
    body = {"id": "r1", "channel": "online", "lines": [{"sku": "A", "location": "S2", "qty": 1}]}
    assert (await api.call("POST", "/v1/reservations", "oms", json=body)).status_code == 201
    assert_problem(await api.call("POST", "/v1/reservations/r1/release", "pos"), 403)
    assert (await api.call("GET", "/v1/reservations/r1", "oms")).json()["state"] == "held"


async def test_rate_limit_is_429_with_retry_after(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str
) -> None:
    app = create_app(settings_for(redis_url, pg_dsn, rate_limit_per_s=3.0))
    async with app.router.lifespan_context(app):
        _, key = await create_key(db, [Scope.admin])
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {key}"}
            statuses = [(await client.get(AVAIL, headers=headers)).status_code for _ in range(5)]
            assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
            r = await client.get(AVAIL, headers=headers)
            assert_problem(r, 429, "rate-limited")
            assert int(r.headers["retry-after"]) >= 1


async def test_a_keys_own_rate_overrides_the_default(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str
) -> None:
    app = create_app(settings_for(redis_url, pg_dsn, rate_limit_per_s=0.0))
    async with app.router.lifespan_context(app):
        _, key = await create_key(db, [Scope.admin], rate_per_s=1)
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {key}"}
            assert (await client.get(AVAIL, headers=headers)).status_code == 200
            assert (await client.get(AVAIL, headers=headers)).status_code == 429


def test_auth_off_is_refused_outside_development() -> None:
    pg = {"ATP_PG_DSN": "postgresql://postgres@127.0.0.1:5432/atp"}
    with pytest.raises(SettingsError):
        from_env({"ATP_AUTH": "off", **pg})
    with pytest.raises(SettingsError):
        from_env({"ATP_AUTH": "off", "ATP_ENV": "production", **pg})
    assert not from_env({"ATP_AUTH": "off", "ATP_ENV": "development", **pg}).auth


def test_no_server_runs_without_postgresql_even_in_development() -> None:
    with pytest.raises(SettingsError, match="ATP_PG_DSN"):
        from_env({"ATP_ENV": "development"})


async def test_auth_off_in_development_needs_no_key(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str
) -> None:
    app = create_app(settings_for(redis_url, pg_dsn, auth=False, environment="development"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get(AVAIL)).status_code == 200
