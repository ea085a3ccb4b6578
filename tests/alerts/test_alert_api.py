"""The alerts' routes through the app: sign-ups deduplicated, consent and catalog refusals
naming the field, unsubscribing by id and by token, a store-bound key's lane, opens and the
figures."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from alerts import consume
from alerts.conversions import record_order
from api.auth import Scope
from api.keystore import create_key
from atp.clock import ManualClock
from support.alerts_world import catalog, make_world
from support.harness import Api, serving, settings_for

SIGN_UP: dict[str, Any] = {
    "contact": {"email": "Kari@Example.no"},
    "consent": {"given": True, "at": "2026-12-03T10:00:00Z", "source": "pdp-form"},
    "sku": "SKU-1",
    "location": "OSLO-1",
    "channel": "online",
}


@pytest.fixture
async def api(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock, monkeypatch: Any
) -> AsyncIterator[Api]:
    monkeypatch.setenv("ATP_ALERTS_WORKER", "off")  # the tests drive the worker themselves
    await catalog(db)
    async with serving(settings_for(redis_url, pg_dsn), clock) as harness:
        async with db.acquire() as conn:
            _, key = await create_key(conn, [Scope.alerts_write], ["OSLO-1"], "store-alerts")
        harness.keys["store_alerts"] = key
        yield harness


def _field(response: Any) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["errors"][0]["field"])


async def test_the_same_contact_sku_and_scope_is_one_subscription(api: Api) -> None:
    first = await api.call("POST", "/v1/alerts/subscriptions", json=SIGN_UP)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["contact"] == {"email": "kari@example.no"} and body["state"] == "waiting"
    again = {**SIGN_UP, "contact": {"email": "  KARI@example.NO "}}
    second = await api.call("POST", "/v1/alerts/subscriptions", json=again)
    assert second.status_code == 200 and second.json()["id"] == body["id"]
    store = {**SIGN_UP, "channel": "store"}  # another scope: another subscription
    assert (await api.call("POST", "/v1/alerts/subscriptions", json=store)).status_code == 201
    phone = {**SIGN_UP, "contact": {"phone": "+47 912 34 567"}}
    made = await api.call("POST", "/v1/alerts/subscriptions", json=phone)
    same = {**SIGN_UP, "contact": {"phone": "0047-91234567"}}
    assert made.status_code == 201
    assert (await api.call("POST", "/v1/alerts/subscriptions", json=same)).json()["id"] == (
        made.json()["id"]
    )
    count = await api.services.pool.fetchval("SELECT count(*) FROM alert_subscriptions")
    assert count == 3


async def test_no_consent_is_refused_naming_the_field(api: Api) -> None:
    missing = {k: v for k, v in SIGN_UP.items() if k != "consent"}
    assert _field(await api.call("POST", "/v1/alerts/subscriptions", json=missing)) == "consent"
    refused = {**SIGN_UP, "consent": {**SIGN_UP["consent"], "given": False}}
    got = await api.call("POST", "/v1/alerts/subscriptions", json=refused)
    assert _field(got) == "consent.given"
    assert await api.services.pool.fetchval("SELECT count(*) FROM alert_subscriptions") == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact": {}}, "contact"),
        ({"contact": {"email": "kari"}}, "contact.email"),
        ({"contact": {"phone": "912 34 567"}}, "contact.phone"),
        ({"location": "NOWHERE"}, "location"),
        ({"location": None, "group": "nogroup"}, "group"),
        ({"location": None}, "location"),
        ({"channel": "fax"}, "channel"),
    ],
)
async def test_bad_sign_ups_name_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in {**SIGN_UP, **change}.items() if v is not None}
    assert _field(await api.call("POST", "/v1/alerts/subscriptions", json=body)) == field


async def test_an_unknown_sku_is_refused_once_the_catalog_lists_skus(api: Api) -> None:
    assert (await api.call("POST", "/v1/alerts/subscriptions", json=SIGN_UP)).status_code == 201
    await api.services.pool.execute("INSERT INTO skus (id) VALUES ('SKU-2')")
    other = {**SIGN_UP, "contact": {"email": "ola@example.no"}}
    assert _field(await api.call("POST", "/v1/alerts/subscriptions", json=other)) == "sku"
    known = {**other, "sku": "SKU-2"}
    assert (await api.call("POST", "/v1/alerts/subscriptions", json=known)).status_code == 201


async def test_unsubscribe_by_id_and_by_token(api: Api) -> None:
    one = (await api.call("POST", "/v1/alerts/subscriptions", json=SIGN_UP)).json()
    gone = await api.call("DELETE", f"/v1/alerts/subscriptions/{one['id']}")
    assert gone.status_code == 200 and gone.json()["state"] == "unsubscribed"
    again = await api.call("DELETE", f"/v1/alerts/subscriptions/{one['id']}")
    assert again.status_code == 200  # idempotent
    got = await api.call("GET", f"/v1/alerts/subscriptions/{one['id']}")
    assert got.status_code == 200 and got.json()["state"] == "unsubscribed"
    assert (await api.call("GET", "/v1/alerts/subscriptions/sub_none")).status_code == 404
    fresh = await api.call("POST", "/v1/alerts/subscriptions", json=SIGN_UP)
    assert fresh.status_code == 201 and fresh.json()["id"] != one["id"]
    token = fresh.json()["unsubscribe_token"]
    by_token = await api.call("POST", "/v1/alerts/unsubscribe", json={"token": token})
    assert by_token.status_code == 200 and by_token.json()["id"] == fresh.json()["id"]
    unknown = await api.call("POST", "/v1/alerts/unsubscribe", json={"token": "nope"})
    assert unknown.status_code == 404
    assert (await api.call("DELETE", "/v1/alerts/subscriptions/sub_none")).status_code == 404


async def test_a_key_bound_to_a_store_signs_up_there_only(api: Api) -> None:
    at_home = await api.call("POST", "/v1/alerts/subscriptions", "store_alerts", json=SIGN_UP)
    assert at_home.status_code == 201, at_home.text
    away = {**SIGN_UP, "location": "OSLO-2"}
    refused = await api.call("POST", "/v1/alerts/subscriptions", "store_alerts", json=away)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/location-not-allowed"
    group = {k: v for k, v in SIGN_UP.items() if k != "location"} | {"group": "oslo"}
    over = await api.call("POST", "/v1/alerts/subscriptions", "store_alerts", json=group)
    assert over.status_code == 403  # the group reaches OSLO-2 too
    elsewhere = (await api.call("POST", "/v1/alerts/subscriptions", json=away)).json()
    path = f"/v1/alerts/subscriptions/{elsewhere['id']}"
    assert (await api.call("DELETE", path, "store_alerts")).status_code == 403
    assert (await api.call("POST", "/v1/alerts/subscriptions", "reader", json=SIGN_UP)).json()[
        "type"
    ] == "/problems/scope-missing"


async def test_opens_and_the_conversion_figures(api: Api, clock: ManualClock) -> None:
    world = make_world(api.services.pool, api.services.engine, clock, subscribers_per_unit=1)
    async with api.services.pool.acquire() as conn:
        await consume.start(conn)
    for who in ("a@example.no", "b@example.no"):
        body = {**SIGN_UP, "contact": {"email": who}}
        assert (await api.call("POST", "/v1/alerts/subscriptions", json=body)).status_code == 201
    await api.services.engine.stock.adjust("SKU-1", "OSLO-1", 2, "receipt")
    # Far above the seqs the app's own changes sequencer may append meanwhile.
    world.seq = iter(range(10**12, 10**12 + 10))
    await world.back_in_stock()
    assert await world.run() == (1, 2, 0)
    sends = {a["contact"]["email"]: a["send_id"] for a in await world.alerts()}
    got = await api.call("POST", f"/v1/alerts/sends/{sends['a@example.no']}/opened")
    assert got.status_code == 200 and got.json()["send_id"] == sends["a@example.no"]
    missing = await api.call("POST", "/v1/alerts/sends/snd_none/opened")
    assert missing.status_code == 404
    now = world.worker.now()
    async with api.services.pool.acquire() as conn:
        assert await record_order(conn, "o-1", "A@example.no", None, ["SKU-1"], None, now)
    stats = (await api.call("GET", "/v1/alerts/stats")).json()
    assert stats["sends"] == 2 and stats["opens"] == 1 and stats["orders_from_alerts_48h"] == 1
    assert stats["conversion_rate"] == 0.5 and stats["subscriptions_waiting"] == 0
    other = (await api.call("GET", "/v1/alerts/stats?sku=SKU-9")).json()
    assert other["sends"] == 0 and other["conversion_rate"] == 0.0
