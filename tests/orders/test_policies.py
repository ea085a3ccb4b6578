"""Versioned policies and their surfaces over the API (api/routes_policies.py,
orders/policies.py): saving versions, reading them, and the consistency audit."""

import asyncio
from typing import Any

from api.auth import Scope
from api.keystore import create_key
from orders import policies
from support.harness import Api, assert_problem, field_of

REFUNDS: dict[str, Any] = {
    "terms": {"initiate_within_days": 14},
    "text": "Refunds start within {initiate_within_days}.",
}
MATCH: dict[str, Any] = {
    "terms": {"window_days": 14, "max_amount": {"value": "500", "currency": "NOK"}},
    "text": "We match a lower price seen within {window_days}, up to {max_amount}.",
}


async def versions(api: Api, name: str) -> int:
    count: int = await api.services.pool.fetchval(
        "SELECT count(*) FROM policies WHERE name = $1", name
    )
    return count


async def test_seeded_policies_read_rendered(api: Api) -> None:
    listed = await api.call("GET", "/v1/policies", "reader")
    assert listed.status_code == 200, listed.text
    current = {i["name"]: i["current_version"] for i in listed.json()["items"]}
    assert current == {"pickup": 1, "refunds": None, "returns": 1, "price_match": None}
    got = (await api.call("GET", "/v1/policies/pickup", "reader")).json()
    assert got["version"] == 1 and got["terms"] == {"collect_within_hours": 72}
    assert got["rendered"] == "We hold your order for 72 hours after it is ready."
    returns = (await api.call("GET", "/v1/policies/returns?version=1", "pos")).json()
    assert returns["rendered"].startswith("Return within 30 days at any store")


async def test_versions_are_created_and_read_by_number(api: Api) -> None:
    first = await api.call("PUT", "/v1/policies/price_match", json=MATCH)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["version"] == 1 and body["created_by"]
    assert body["terms"]["max_amount"] == {"value": "500.00", "currency": "NOK"}
    assert body["rendered"] == "We match a lower price seen within 14 days, up to NOK 500.00."
    changed = {**MATCH, "terms": {**MATCH["terms"], "window_days": 30}}
    second = await api.call("PUT", "/v1/policies/price_match", json=changed)
    assert second.status_code == 201 and second.json()["version"] == 2
    assert (await api.call("GET", "/v1/policies/price_match", "reader")).json()["version"] == 2
    old = await api.call("GET", "/v1/policies/price_match?version=1", "reader")
    assert old.json()["terms"]["window_days"] == 14
    # The order service judges by the new version at once.
    async with api.services.pool.acquire() as conn:
        assert (await policies.in_force(conn, "price_match")).version == 2


async def test_saving_the_current_version_again_is_a_no_op(api: Api) -> None:
    assert (await api.call("PUT", "/v1/policies/refunds", json=REFUNDS)).status_code == 201
    again = await api.call("PUT", "/v1/policies/refunds", json=REFUNDS)
    assert again.status_code == 200 and again.json()["version"] == 1
    # The normalised form of an amount is the same version too.
    await api.call("PUT", "/v1/policies/price_match", json=MATCH)
    same = {**MATCH, "terms": {**MATCH["terms"], "max_amount": {"value": 500}}}
    assert (await api.call("PUT", "/v1/policies/price_match", json=same)).status_code == 200
    assert await versions(api, "refunds") == 1 and await versions(api, "price_match") == 1
    keyed = {"Idempotency-Key": "pol-1"}
    edit = {**REFUNDS, "text": "Refunds within {initiate_within_days}."}
    one = await api.call("PUT", "/v1/policies/refunds", json=edit, headers=keyed)
    two = await api.call("PUT", "/v1/policies/refunds", json=edit, headers=keyed)
    assert one.status_code == two.status_code == 201 and two.json() == one.json()
    assert two.headers.get("Idempotent-Replayed") == "true"
    assert await versions(api, "refunds") == 2


async def test_bad_versions_name_the_field_and_store_nothing(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("returns", {"terms": {"window_days": 30}, "text": "t"}, "terms.conditions"),
        (
            "pickup",
            {"terms": {"collect_within_hours": 0}, "text": "t"},
            "terms.collect_within_hours",
        ),
        ("pickup", {"terms": {"collect_within_hours": 2, "x": 1}, "text": "t"}, "terms.x"),
        ("pickup", {"terms": {"collect_within_hours": 2}, "text": "{window_days}"}, "text"),
        ("pickup", {"terms": {"collect_within_hours": 2}, "text": "{collect"}, "text"),
        ("pickup", {"terms": {"collect_within_hours": 2}}, "text"),
        ("pickup", {"terms": {"collect_within_hours": 2}, "text": "t", "by": "me"}, "by"),
        (
            "price_match",
            {**MATCH, "terms": {**MATCH["terms"], "max_amount": {"value": "-1"}}},
            "terms.max_amount.value",
        ),
    ]
    for name, body, field in cases:
        refused = await api.call("PUT", f"/v1/policies/{name}", json=body)
        assert field_of(assert_problem(refused, 422, "invalid-input")) == field, (name, body)
    assert await versions(api, "pickup") == 1 and await versions(api, "price_match") == 0
    unknown = await api.call("PUT", "/v1/policies/shipping", json=REFUNDS)
    assert_problem(unknown, 404, "policy-not-found")


async def test_unknown_versions_and_names_are_404(api: Api) -> None:
    assert_problem(await api.call("GET", "/v1/policies/pickup?version=2", "reader"), 404)
    assert_problem(await api.call("GET", "/v1/policies/refunds", "reader"), 404)
    assert_problem(await api.call("GET", "/v1/policies/nope", "reader"), 404, "policy-not-found")
    bad = await api.call("GET", "/v1/policies/pickup?version=0", "reader")
    assert field_of(assert_problem(bad, 422)) == "version"


async def test_writes_need_catalog_write_and_every_location(api: Api) -> None:
    assert_problem(await api.call("PUT", "/v1/policies/refunds", "oms", json=REFUNDS), 403)
    async with api.services.pool.acquire() as conn:
        _, key = await create_key(conn, [Scope.catalog_write], ["S1"], "store catalog")
    headers = {"Authorization": f"Bearer {key}"}
    refused = await api.client.put("/v1/policies/refunds", json=REFUNDS, headers=headers)
    assert_problem(refused, 403, "location-not-allowed")
    assert await versions(api, "refunds") == 0
    assert (await api.client.get("/v1/policies/pickup", headers=headers)).status_code == 403
    assert_problem(await api.call("GET", "/v1/policies/audit", "reader"), 403)


def published(version: int, text: str, policy: str = "pickup") -> dict[str, Any]:
    return {"policy": policy, "published_version": version, "published_text": text}


async def test_audit_counts_a_stale_surface_until_it_publishes(api: Api) -> None:
    audit = (await api.call("GET", "/v1/policies/audit")).json()
    assert audit["defects"] == 0
    assert {s["surface"] for s in audit["surfaces"]} == {"pickup_answer", "return_answer"}
    assert all(s["served"] and s["matches"] for s in audit["surfaces"])
    render = (await api.call("GET", "/v1/policies/surfaces/order_email/render", "reader")).json()
    assert render == {
        "surface": "order_email",
        "policy": "pickup",
        "version": 1,
        "text": "We hold your order for 72 hours after it is ready.",
    }
    shown = await api.call(
        "PUT", "/v1/policies/surfaces/order_email", json=published(1, render["text"])
    )
    assert shown.status_code == 200 and shown.json()["matches"], shown.text
    # A new pickup version: the email still shows version 1, a defect.
    new = {"terms": {"collect_within_hours": 48}, "text": "Collect within {collect_within_hours}."}
    assert (await api.call("PUT", "/v1/policies/pickup", json=new)).status_code == 201
    audit = (await api.call("GET", "/v1/policies/audit")).json()
    assert audit["defects"] == 1
    email = next(s for s in audit["surfaces"] if s["surface"] == "order_email")
    assert (email["current_version"], email["published_version"], email["matches"]) == (2, 1, False)
    assert email["diff"] and "current 2" in email["diff"][0]
    served = next(s for s in audit["surfaces"] if s["surface"] == "pickup_answer")
    assert served["current_version"] == 2 and served["matches"]
    # An edited copy of the current version is a defect too.
    copy = published(2, "Collect within 2 days.")
    assert not (await api.call("PUT", "/v1/policies/surfaces/order_email", json=copy)).json()[
        "matches"
    ]
    assert (await api.call("GET", "/v1/policies/audit")).json()["defects"] == 1
    render = (await api.call("GET", "/v1/policies/surfaces/order_email/render", "reader")).json()
    assert render["version"] == 2 and render["text"] == "Collect within 48 hours."
    fixed = await api.call(
        "PUT", "/v1/policies/surfaces/order_email", json=published(2, render["text"])
    )
    assert fixed.json()["matches"]
    assert (await api.call("GET", "/v1/policies/audit")).json()["defects"] == 0


async def test_surface_reports_are_checked(api: Api) -> None:
    cases = [
        ("receipt", published(9, "x"), "published_version"),
        ("receipt", published(1, "x", "shipping"), "policy"),
        ("pickup_answer", published(1, "x"), "surface"),
    ]
    for surface, body, field in cases:
        refused = await api.call("PUT", f"/v1/policies/surfaces/{surface}", json=body)
        assert field_of(assert_problem(refused, 422)) == field, body
    assert_problem(await api.call("PUT", "/v1/policies/surfaces/tv", json=published(1, "x")), 404)
    assert await api.services.pool.fetchval("SELECT count(*) FROM policy_surfaces") == 0
    audit = (await api.call("GET", "/v1/policies/audit")).json()
    assert "receipt" in audit["unreported"]


async def test_concurrent_saves_make_one_version_each_body(api: Api) -> None:
    same = [api.call("PUT", "/v1/policies/refunds", json=REFUNDS) for _ in range(4)]
    answers = await asyncio.gather(*same)
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201]
    assert {r.json()["version"] for r in answers} == {1}
    bodies = [{**REFUNDS, "terms": {"initiate_within_days": days}} for days in (3, 4, 5)]
    made = await asyncio.gather(*(api.call("PUT", "/v1/policies/refunds", json=b) for b in bodies))
    assert sorted(r.json()["version"] for r in made) == [2, 3, 4]
