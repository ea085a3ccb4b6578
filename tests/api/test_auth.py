"""API keys: 401 without a valid one, 403 for a missing scope or another store."""

import httpx
import pytest
from harness import Api, assert_problem, settings_for

from api.app import asgi, create_app
from api.auth import Scope, create_key, revoke_key
from api.settings import SettingsError, from_env

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


async def test_keys_are_stored_hashed(api: Api) -> None:
    key = api.keys["admin"]
    kid = key.split("_")[1]
    record = await api.engine.redis.command("HGETALL", f"atp:{{meta}}:apikey:{kid}")
    assert key not in record and key.split("_", 2)[2] not in "".join(record)


async def test_revoked_key_is_401(api: Api) -> None:
    assert (await api.call("GET", AVAIL, "reader")).status_code == 200
    assert await revoke_key(api.engine.redis, api.keys["reader"])
    assert_problem(await api.call("GET", AVAIL, "reader"), 401)


async def test_wrong_scope_is_403(api: Api) -> None:
    assert_problem(await api.call("POST", ADJUST, "reader", json=adjustment()), 403, "forbidden")
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
    assert_problem(r, 403)
    body = {"channel": "store", "lines": [{"sku": "A", "location": "S2", "qty": 1}]}
    assert_problem(await api.call("POST", "/v1/reservations", "pos", json=body), 403)


async def test_store_key_cannot_settle_another_stores_reservation(api: Api) -> None:
    await api.engine.stock.adjust("A", "S2", 5, "receipt")
    body = {"id": "r1", "channel": "online", "lines": [{"sku": "A", "location": "S2", "qty": 1}]}
    assert (await api.call("POST", "/v1/reservations", "oms", json=body)).status_code == 201
    assert_problem(await api.call("POST", "/v1/reservations/r1/release", "pos"), 403)
    assert (await api.call("GET", "/v1/reservations/r1", "oms")).json()["state"] == "held"


async def test_rate_limit_is_429_with_retry_after(redis_url: str) -> None:
    app = create_app(settings_for(redis_url, rate_limit_per_s=3.0))
    async with app.router.lifespan_context(app):
        _, key = await create_key(app.state.services.engine.redis, [Scope.admin])
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {key}"}
            statuses = [(await client.get(AVAIL, headers=headers)).status_code for _ in range(5)]
            assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
            r = await client.get(AVAIL, headers=headers)
            assert_problem(r, 429, "rate-limited")
            assert int(r.headers["retry-after"]) >= 1


async def test_a_keys_own_rate_overrides_the_default(redis_url: str) -> None:
    app = create_app(settings_for(redis_url, rate_limit_per_s=0.0))
    async with app.router.lifespan_context(app):
        _, key = await create_key(app.state.services.engine.redis, [Scope.admin], rate_per_s=1)
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {key}"}
            assert (await client.get(AVAIL, headers=headers)).status_code == 200
            assert (await client.get(AVAIL, headers=headers)).status_code == 429


def test_auth_off_is_refused_outside_development() -> None:
    with pytest.raises(SettingsError):
        from_env({"ATP_AUTH": "off"})
    with pytest.raises(SettingsError):
        from_env({"ATP_AUTH": "off", "ATP_ENV": "production"})
    assert not from_env({"ATP_AUTH": "off", "ATP_ENV": "development"}).auth


async def test_auth_off_in_development_needs_no_key(redis_url: str) -> None:
    app = create_app(settings_for(redis_url, auth=False, environment="development"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=asgi(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get(AVAIL)).status_code == 200
