"""Prices over the API and the sale check (orders/prices.py, api/routes_prices.py): versions,
the price at instants before, within and after a promotion, retries, refusals that store
nothing, history, the chain-wide rule, ``price.changed`` and mismatches."""

import datetime as dt
from decimal import Decimal
from typing import Any

from api.auth import Scope
from api.keystore import create_key
from atp.clock import instant
from orders import prices
from orders.price_rules import check
from support.harness import Api, assert_problem, field_of

HOUR = dt.timedelta(hours=1)


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _now(api: Api) -> dt.datetime:
    """The engine's clock: prices are stamped and read on it."""
    return instant(api.clock)


def _promo(price: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {"price": price, "from": _iso(start), "to": _iso(end)}


async def _versions(api: Api, sku: str = "A") -> list[int]:
    resp = await api.call("GET", f"/v1/prices/{sku}/history", "reader")
    assert resp.status_code == 200, resp.text
    return [item["version"] for item in resp.json()["items"]]


async def test_put_versions_and_same_body_is_no_new_version(api: Api) -> None:
    body = {"list_price": "249.00", "currency": "NOK"}
    first = await api.call("PUT", "/v1/prices/A", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["list_price"] == "249.00"
    again = await api.call("PUT", "/v1/prices/A", json={"list_price": 249, "currency": "NOK"})
    assert again.status_code == 200 and again.json() == first.json()
    changed = await api.call("PUT", "/v1/prices/A", json={**body, "list_price": "199"})
    assert changed.status_code == 201 and changed.json()["version"] == 2
    assert changed.json()["valid_from"] >= first.json()["valid_from"]
    assert await _versions(api) == [2, 1]
    items = (await api.call("GET", "/v1/prices/A/history?limit=1", "reader")).json()["items"]
    assert [i["list_price"] for i in items] == ["199.00"]


async def test_retry_with_idempotency_key_answers_the_same(api: Api) -> None:
    body = {"list_price": "10", "currency": "EUR"}
    headers = {"Idempotency-Key": "price-1"}
    first = await api.call("PUT", "/v1/prices/B", json=body, headers=headers)
    retry = await api.call("PUT", "/v1/prices/B", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["idempotent-replayed"] == "true"
    assert await _versions(api, "B") == [1]


async def test_price_at_instants_around_a_promotion(api: Api) -> None:
    before = _now(api)
    start, end = before + HOUR, before + 2 * HOUR
    body = {"list_price": "249.00", "currency": "NOK", "promotion": _promo("199.5", start, end)}
    put = await api.call("PUT", "/v1/prices/A", json=body)
    assert put.status_code == 201, put.text
    assert put.json()["promotion"] == {"price": "199.50", "from": _iso(start), "to": _iso(end)}

    async def at(t: dt.datetime) -> Any:
        resp = await api.call("GET", "/v1/prices/A", "reader", params={"at": _iso(t)})
        assert resp.status_code == 200, resp.text
        return resp.json()

    for t, price in [(start - HOUR / 2, "249.00"), (end, "249.00"), (end + HOUR, "249.00")]:
        got = await at(t)
        assert (got["price"], got["promotion"]) == (price, None)
    for t in (start, start + HOUR / 2):
        got = await at(t)
        assert got["price"] == "199.50" and got["list_price"] == "249.00"
        assert got["promotion"]["price"] == "199.50" and got["version"] == 1
        assert got["currency"] == "NOK" and got["sku"] == "A"
    now = await api.call("GET", "/v1/prices/A", "oms")
    assert now.status_code == 200 and now.json()["price"] == "249.00"
    # Every key, whatever its channel, gets the same answer.
    pos = await api.call("GET", "/v1/prices/A", "pos", params={"at": _iso(start)})
    assert pos.json() == await at(start)

    old = await api.call("GET", "/v1/prices/A", "reader", params={"at": _iso(before - HOUR)})
    assert_problem(old, 404, "price-not-found")
    assert_problem(await api.call("GET", "/v1/prices/NOPE", "reader"), 404, "price-not-found")
    bad = await api.call("GET", "/v1/prices/A", "reader", params={"at": "yesterday"})
    assert field_of(assert_problem(bad, 422, "invalid-input")) == "at"
    far = await api.call(
        "GET", "/v1/prices/A", "reader", params={"at": "0001-01-01T00:00:00+01:00"}
    )
    assert field_of(assert_problem(far, 422, "invalid-input")) == "at"


async def test_a_later_version_answers_from_its_valid_from(api: Api) -> None:
    await api.call("PUT", "/v1/prices/A", json={"list_price": "20", "currency": "NOK"})
    between = _now(api)
    api.clock.advance(1000)
    await api.call("PUT", "/v1/prices/A", json={"list_price": "30", "currency": "NOK"})
    got = await api.call("GET", "/v1/prices/A", "reader", params={"at": _iso(between)})
    assert (got.json()["price"], got.json()["version"]) == ("20.00", 1)
    assert (await api.call("GET", "/v1/prices/A", "reader")).json()["version"] == 2


async def test_bad_input_names_the_field_and_stores_nothing(api: Api) -> None:
    pool = api.services.pool
    now = _now(api)
    ok = {"list_price": "100", "currency": "NOK"}
    assert (await api.call("PUT", "/v1/prices/A", json=ok)).status_code == 201
    cases: list[tuple[dict[str, Any], str]] = [
        ({**ok, "list_price": "-1"}, "list_price"),
        ({**ok, "list_price": "1.001"}, "list_price"),
        ({**ok, "currency": "nok"}, "currency"),
        ({**ok, "currency": "SEK"}, "currency"),  # A's prices are in NOK
        ({**ok, "promotion": _promo("101", now, now + HOUR)}, "promotion.price"),
        ({**ok, "promotion": _promo("50", now, now)}, "promotion.to"),
        (
            {
                **ok,
                "promotion": {
                    "price": "50",
                    "from": "2026-12-01T00:00:00",
                    "to": "2026-12-02T00:00:00Z",
                },
            },
            "promotion.from",
        ),
    ]
    for body, field in cases:
        resp = await api.call("PUT", "/v1/prices/A", json=body)
        assert field_of(assert_problem(resp, 422, "invalid-input")) == field, body
    unknown = await api.call("PUT", "/v1/prices/A", json={**ok, "colour": "red"})
    assert_problem(unknown, 422)
    await pool.execute("INSERT INTO skus (id) VALUES ('A')")
    missing = await api.call("PUT", "/v1/prices/ZZ", json=ok)
    assert field_of(assert_problem(missing, 422, "invalid-input")) == "sku"
    assert await _versions(api) == [1]
    assert await _versions(api, "ZZ") == []
    assert await pool.fetchval("SELECT count(*) FROM prices") == 1


async def test_prices_are_chain_wide(api: Api) -> None:
    async with api.services.pool.acquire() as conn:
        _, bound = await create_key(conn, [Scope.catalog_write], ["S1"], "bound")
    body = {"list_price": "1", "currency": "NOK"}
    resp = await api.client.put(
        "/v1/prices/A", json=body, headers={"Authorization": f"Bearer {bound}"}
    )
    assert_problem(resp, 403, "location-not-allowed")
    assert_problem(await api.call("PUT", "/v1/prices/A", "orders", json=body), 403)
    assert await _versions(api) == []


async def test_a_new_version_publishes_price_changed(api: Api) -> None:
    pool = api.services.pool
    await pool.execute(
        "INSERT INTO webhook_endpoints (id, url, secret, types, start_seq)"
        " VALUES ('wh_p', 'https://hooks.example.com/p', 'whsec_x', '{price.changed}', 0)"
    )
    body = {"list_price": "5", "currency": "NOK"}
    await api.call("PUT", "/v1/prices/A", json=body)
    await api.call("PUT", "/v1/prices/A", json=body)  # the same: no new version, no event
    rows = await pool.fetch("SELECT type, sku, payload FROM webhook_deliveries")
    assert [(r["type"], r["sku"]) for r in rows] == [("price.changed", "A")]
    assert '"list_price":"5.00"' in rows[0]["payload"]


async def test_a_sale_at_another_price_counts_as_a_mismatch_once(api: Api) -> None:
    pool = api.services.pool
    start = _now(api) + HOUR
    terms = check("100", "NOK", ("80", start, start + HOUR))
    async with pool.acquire() as conn:
        _, saved = await prices.save(conn, "A", terms, "tests", _now(api))
        t0 = saved.valid_from

        async def sale(where: str, price: str, at: dt.datetime, **kw: Any) -> bool:
            args: dict[str, Any] = {"channel": "online", "location": "S1", "currency": "NOK"}
            args.update(kw)
            found = await prices.check_sale(
                conn, sku="A", where=where, sold_price=Decimal(price), at=at, **args
            )
            return found.matched

        assert await sale("o-1", "100", start - HOUR / 2)
        assert await sale("o-2", "80.00", start + HOUR / 2, channel="store")
        assert not await sale("o-3", "100", start)  # the promotion applied
        assert not await sale("o-3", "100", start)  # a retry: counted once
        assert not await sale("e-4", "80", start + HOUR, channel="store", location="S2")
        assert not await sale("o-5", "100", start - HOUR / 2, currency="EUR")
        assert await sale("o-7", "100", start - HOUR / 2, currency=None)  # the SKU's
        assert await sale("o-6", "1", t0 - HOUR)  # no price then: nothing to differ from

        async def count(**kw: Any) -> int:
            return await prices.mismatches(conn, since=t0, until=start + 2 * HOUR, **kw)

        assert await count() == 3
        assert await count(channel="store") == 1
        assert await count(location="S1") == 2
        assert await count(location="S1", channel="online") == 2
        assert await prices.mismatches(conn, since=start, until=start + HOUR) == 1
    row = await pool.fetchrow("SELECT * FROM price_mismatches WHERE sale_ref = 'o-3'")
    assert row is not None
    assert (row["sold_price"], row["price"], row["price_version"]) == (100, 80, 1)
