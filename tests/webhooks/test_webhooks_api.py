"""The webhook routes over HTTP: registration (secret once, 422 naming the field for bad
URLs, SSRF targets, types and unknown catalog ids), listing, deletion, the dead-letter
list and redelivery."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from atp.clock import ManualClock
from support.harness import Api, assert_problem, field_of, serving, settings_for
from support.webhook_feed import add_changes
from support.webhook_receiver import Receiver
from webhooks.fanout import fan_out

SSRF_REFUSED = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",  # a name: refused on the address it resolves to
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "http://0.0.0.0/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://0x7f000001/hook",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
    "http://[::ffff:10.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 around 10.0.0.1
    "http://100.64.0.1/hook",  # carrier-grade NAT: not global
    "ftp://93.184.215.14/hook",
    "file:///etc/passwd",
    "gopher://93.184.215.14/hook",
    "https:///no-host",
    "http://user:pw@93.184.215.14/hook",
    "http://93.184.215.14:99999/hook",
]


@pytest.fixture
async def strict(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    """Production's rule: global addresses only."""
    settings = settings_for(redis_url, pg_dsn, run_webhooks=False, environment="production")
    async with serving(settings, clock) as api:
        yield api


@pytest.fixture
async def development(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, clock: ManualClock
) -> AsyncIterator[Api]:
    settings = settings_for(redis_url, pg_dsn, run_webhooks=False, webhooks_allow_private=True)
    async with serving(settings, clock) as api:
        yield api


def _body(url: str, **more: object) -> dict[str, object]:
    return {"url": url, "types": ["back_in_stock"], **more}


@pytest.mark.parametrize("url", SSRF_REFUSED)
async def test_targets_that_are_not_global_http_are_refused_naming_url(
    strict: Api, url: str
) -> None:
    r = await strict.call("POST", "/v1/webhooks", json=_body(url))
    assert field_of(assert_problem(r, 422, "invalid-input")) == "url", r.text


async def test_a_global_address_is_accepted_and_the_secret_shown_once(strict: Api) -> None:
    r = await strict.call("POST", "/v1/webhooks", json=_body("https://93.184.215.14/h"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"].startswith("wh_") and created["secret"].startswith("whsec_")
    assert created["enabled"] and created["types"] == ["back_in_stock"]
    listed = (await strict.call("GET", "/v1/webhooks")).json()["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]


async def test_private_targets_only_with_the_development_setting(
    development: Api, receiver: Receiver
) -> None:
    r = await development.call("POST", "/v1/webhooks", json=_body(receiver.url()))
    assert r.status_code == 201, r.text
    r = await development.call("POST", "/v1/webhooks", json=_body("gopher://127.0.0.1/"))
    assert field_of(assert_problem(r, 422)) == "url"  # the scheme rule still holds


async def test_the_setting_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="ATP_WEBHOOKS_ALLOW_PRIVATE"):
        settings_for("redis://x", "postgresql://x", environment="production",
                     webhooks_allow_private=True).validate()  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"types": []}, "types"),
        ({"types": ["nonsense"]}, "types[0]"),
        ({"types": ["back_in_stock", "sold"]}, "types[1]"),
        ({"skus": ["bad sku"]}, "skus[0]"),
        ({"locations": ["S1", "NOWHERE"]}, "locations[1]"),  # the catalog knows S1 only
        ({"groups": ["no-group"]}, "groups[0]"),
        ({"url": 42}, "url"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(
    strict: Api, db: asyncpg.Pool, extra: dict[str, object], field: str
) -> None:
    await db.execute(
        "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone)"
        " VALUES ('S1', 'S1', 'store', 59.9, 10.7, 'UTC')"
    )
    await db.execute("INSERT INTO location_groups (name) VALUES ('oslo')")
    r = await strict.call("POST", "/v1/webhooks", json={**_body("https://93.184.215.14/"), **extra})
    assert field_of(assert_problem(r, 422)) == field, r.text


async def test_unknown_skus_pass_while_the_catalog_has_none(strict: Api) -> None:
    body = _body("https://93.184.215.14/", skus=["ANY-SKU"])
    assert (await strict.call("POST", "/v1/webhooks", json=body)).status_code == 201


async def test_dead_letter_list_redelivery_and_deletion(development: Api, db: asyncpg.Pool) -> None:
    created = (
        await development.call("POST", "/v1/webhooks", json=_body("http://127.0.0.1:9/"))
    ).json()
    hook = created["id"]
    await add_changes(db, {"type": "back_in_stock"}, {"type": "back_in_stock", "sku": "SKU-2"})
    assert (await fan_out(db, lambda: 0)).deliveries == 2
    await db.execute("UPDATE webhook_deliveries SET state = 'dead' WHERE sku = 'SKU-1'")
    r = await development.call("GET", f"/v1/webhooks/{hook}/deliveries?state=dead")
    [dead] = r.json()["items"]
    assert dead["state"] == "dead" and dead["payload"]["type"] == "back_in_stock"
    page = (await development.call("GET", f"/v1/webhooks/{hook}/deliveries?limit=1")).json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    rest = await development.call(
        "GET", f"/v1/webhooks/{hook}/deliveries?limit=1&cursor={page['next_cursor']}"
    )
    assert rest.json()["items"][0]["sku"] == "SKU-2" and rest.json()["next_cursor"] is None
    r = await development.call("POST", f"/v1/webhooks/{hook}/deliveries/{dead['id']}/retry")
    assert r.status_code == 202 and r.json()["state"] == "pending", r.text
    assert r.json()["id"] == dead["id"] and r.json()["attempts"] == 0
    r = await development.call("POST", f"/v1/webhooks/{hook}/deliveries/msg_nope/retry")
    assert_problem(r, 404, "delivery-not-found")
    r = await development.call("GET", f"/v1/webhooks/{hook}/deliveries?state=sideways")
    assert field_of(assert_problem(r, 422)) == "state"
    assert (await development.call("DELETE", f"/v1/webhooks/{hook}")).status_code == 200
    assert_problem(await development.call("DELETE", f"/v1/webhooks/{hook}"), 404)
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0


async def test_a_key_without_the_scope_is_refused(strict: Api) -> None:
    r = await strict.call("GET", "/v1/webhooks", kind="oms")
    assert_problem(r, 403, "scope-missing")
