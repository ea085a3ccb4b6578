"""Customers across channels (orders/customers.py, api/routes_customers.py): one history
across an online order and a store's endless-aisle order by the same email, a return in
it, explicit merges, lookups, and the lanes that keep customer data out of stores."""

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg

from api.auth import Scope
from api.keystore import create_key
from orders import customers, returns
from orders.return_rules import ReturnLine, ReturnRequest
from support.harness import Api, assert_problem, field_of
from support.order_world import pickup, shipped, shop
from support.samples_returns import insert_order, seed_policy

__all__ = ["shop"]


async def _place(api: Api, kind: str, body: dict[str, Any]) -> None:
    r = await api.call("POST", "/v1/orders", kind, body)
    assert r.status_code == 201, r.text


async def _attach(pool: asyncpg.Pool, **identity: Any) -> str:
    async with pool.acquire() as conn, conn.transaction():
        found = await customers.attach(
            conn,
            customer_id=identity.get("id"),
            email=identity.get("email"),
            phone=identity.get("phone"),
            name=identity.get("name"),
        )
    assert found is not None
    return found


async def _backfill(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await customers.resolve_all(conn)


async def _returned_order(api: Api, order_id: str, email: str) -> None:
    """An order picked up at S1 by this email, and a return of one unit of it."""
    pool = api.services.pool
    await seed_policy(pool)
    await insert_order(pool, order_id, "S1", [("A", 2, Decimal("10.00"))])
    await pool.execute("UPDATE orders SET customer_email = $2 WHERE id = $1", order_id, email)
    request = ReturnRequest(
        "ret-" + order_id, order_id, "S1", [ReturnLine("A", 1, "changed_mind", "new")]
    )
    await returns.create(pool, api.engine, api.services.durability, request, "tests")


async def _customer_of(api: Api, email: str) -> str:
    r = await api.call("GET", "/v1/customers", params={"email": email})
    assert r.status_code == 200, r.text
    (found,) = r.json()["items"]
    return str(found)


async def test_one_history_across_online_and_the_store_aisle_with_a_return(shop: Api) -> None:
    await _place(shop, "orders", pickup("web-1"))  # " Kari@Example.no ", +47 912 34 567
    store_order = {**pickup("aisle-1", 2), "channel": "store"}
    store_order["customer"] = {"email": "KARI@example.no"}
    await _place(shop, "pos", store_order)
    await _place(shop, "orders", shipped("web-2", ("B", 1)))  # customer c-7: someone else
    await _returned_order(shop, "old-1", "kari@example.no")
    assert await _backfill(shop.services.pool) == 4
    assert await _backfill(shop.services.pool) == 4  # again: nothing changes
    assert await shop.services.pool.fetchval("SELECT count(*) FROM customers") == 2

    kari = await _customer_of(shop, " Kari@EXAMPLE.no")
    r = await shop.call("GET", f"/v1/customers/{kari}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Kari"
    assert {(i["kind"], i["value"]) for i in body["identities"]} == {
        ("email", "kari@example.no"),
        ("phone", "+4791234567"),
    }
    orders = {o["id"]: o for o in body["orders"]}
    assert set(orders) == {"web-1", "aisle-1", "old-1"}
    assert orders["aisle-1"]["channel"] == "store" and orders["web-1"]["channel"] == "online"
    assert orders["aisle-1"]["totals"] == {"units": 2, "amount": "398.00"}
    assert [o["id"] for o in body["orders"]][:2] == ["aisle-1", "web-1"]  # newest first
    (ret,) = body["returns"]
    assert ret["id"] == "ret-old-1" and ret["order"] == "old-1"
    assert body["possible_duplicates"] == []
    # by phone, in any spelling
    r = await shop.call("GET", "/v1/customers", params={"phone": "0047 91234567"})
    assert r.json()["items"] == [kari]


async def test_conflicting_records_are_not_merged_until_asked_and_the_merge_is_idempotent(
    api: Api,
) -> None:
    pool = api.services.pool
    one = await _attach(pool, id="c-1", email="kari@example.no")
    two = await _attach(pool, id="c-2", phone="+4791234567")
    # an order giving that email AND that phone joins neither silently
    assert await _attach(pool, email="kari@example.no", phone="+4791234567") == one
    assert await pool.fetchval("SELECT count(*) FROM customers WHERE merged_into IS NULL") == 2
    await insert_order(pool, "both", "S1", [("A", 1, None)])
    await pool.execute(
        "UPDATE orders SET customer_email = 'kari@example.no', customer_phone = '+4791234567'"
        " WHERE id = 'both'"
    )
    seen = (await api.call("GET", f"/v1/customers/{two}")).json()
    assert [o["id"] for o in seen["orders"]] == ["both"]
    assert seen["possible_duplicates"] == [one]

    r = await api.call("POST", f"/v1/customers/{one}/merge", json={"other": two})
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["id"] == one and merged["merged"] == [two]
    assert {i["value"] for i in merged["identities"]} == {
        "c-1",
        "c-2",
        "kari@example.no",
        "+4791234567",
    }
    assert merged["possible_duplicates"] == []
    again = await api.call("POST", f"/v1/customers/{one}/merge", json={"other": two})
    assert again.status_code == 200 and again.json() == merged
    # the other id answers the survivor
    redirected = await api.call("GET", f"/v1/customers/{two}")
    assert redirected.status_code == 200 and redirected.json()["id"] == one
    # the survivor's identities attach to it from now on
    assert await _attach(pool, phone="+4791234567") == one
    assert await pool.fetchval("SELECT count(*) FROM customer_merges") == 1
    # merging the survivor into the merged id is refused, naming the path id
    backwards = await api.call("POST", f"/v1/customers/{two}/merge", json={"other": one})
    assert backwards.status_code == 200  # they are one already: idempotent
    self_merge = await api.call("POST", f"/v1/customers/{one}/merge", json={"other": one})
    assert field_of(assert_problem(self_merge, 422, "invalid-input")) == "other"


async def test_a_merge_retried_with_its_idempotency_key_answers_the_same(api: Api) -> None:
    pool = api.services.pool
    one = await _attach(pool, email="a@example.no")
    two = await _attach(pool, email="b@example.no")
    headers = {"Idempotency-Key": "merge-1"}
    path = f"/v1/customers/{one}/merge"
    first = await api.call("POST", path, json={"other": two}, headers=headers)
    second = await api.call("POST", path, json={"other": two}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.json() == second.json()


async def test_unknown_ids_are_404_and_bad_input_names_the_field(api: Api) -> None:
    assert_problem(await api.call("GET", "/v1/customers/cus_nobody"), 404, "customer-not-found")
    one = await _attach(api.services.pool, email="a@example.no")
    r = await api.call("POST", f"/v1/customers/{one}/merge", json={"other": "cus_nobody"})
    assert "cus_nobody" in assert_problem(r, 404, "customer-not-found")["detail"]
    r = await api.call("POST", "/v1/customers/cus_nobody/merge", json={"other": one})
    assert "cus_nobody" in assert_problem(r, 404, "customer-not-found")["detail"]
    for json, field in [
        ({}, "other"),
        ({"other": "bad id!"}, "other"),
        ({"other": one, "extra": 1}, "extra"),
    ]:
        r = await api.call("POST", f"/v1/customers/{one}/merge", json=json)
        assert field in assert_problem(r, 422)["detail"], r.text
    for query, field in [
        ({"email": "nope"}, "email"),
        ({"phone": "912"}, "phone"),
        ({}, "email"),
    ]:
        r = await api.call("GET", "/v1/customers", params=query)
        assert field_of(assert_problem(r, 422, "invalid-input")) == field
    r = await api.call("GET", "/v1/customers/bad id!")
    assert_problem(r, 422)
    assert await api.services.pool.fetchval("SELECT count(*) FROM customer_merges") == 0


async def test_customer_data_is_never_in_a_store_answer(api: Api) -> None:
    one = await _attach(api.services.pool, email="a@example.no")
    async with api.services.pool.acquire() as conn:
        _, bound = await create_key(
            conn, [Scope.support_read, Scope.support_write], ["S1"], "support at a store"
        )
    headers = {"Authorization": f"Bearer {bound}"}
    for method, path, json in [
        ("GET", f"/v1/customers/{one}", None),
        ("GET", "/v1/customers?email=a@example.no", None),
        ("POST", f"/v1/customers/{one}/merge", {"other": one}),
    ]:
        r = await api.client.request(method, path, json=json, headers=headers)
        assert_problem(r, 403, "location-not-allowed")
    # a register's key has no support scope at all
    assert_problem(await api.call("GET", f"/v1/customers/{one}", "pos"), 403)


async def test_concurrent_orders_by_one_new_email_make_one_customer(api: Api) -> None:
    pool = api.services.pool
    found = await asyncio.gather(
        *(_attach(pool, email="same@example.no", phone=f"+47900000{i:02d}") for i in range(8))
    )
    assert len(set(found)) == 1
    assert await pool.fetchval("SELECT count(*) FROM customer_identities") == 9


async def test_the_backfill_skips_what_identifies_no_one(api: Api) -> None:
    pool = api.services.pool
    await insert_order(pool, "guest", "S1", [("A", 1, None)])  # no identity at all
    await insert_order(pool, "odd", "S1", [("A", 1, None)])
    await pool.execute("UPDATE orders SET customer_email = 'not an address' WHERE id = 'odd'")
    assert await _backfill(pool) == 1
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0
    async with pool.acquire() as conn:
        none = await customers.attach(conn, customer_id=None, email=None, phone=None, name="x")
    assert none is None


async def test_attach_commits_with_the_order_or_not_at_all(api: Api) -> None:
    pool = api.services.pool

    class Refused(Exception):
        pass

    try:
        async with pool.acquire() as conn, conn.transaction():
            await customers.attach(
                conn, customer_id="c-9", email="x@example.no", phone=None, name=None
            )
            raise Refused  # the order's transaction fails after attaching
    except Refused:
        pass
    assert await pool.fetchval("SELECT count(*) FROM customer_identities") == 0
    assert await pool.fetchval("SELECT count(*) FROM customers") == 0


async def test_merges_racing_attaches_leave_no_identity_on_a_merged_record(api: Api) -> None:
    pool = api.services.pool
    one = await _attach(pool, email="a@example.no")
    two = await _attach(pool, email="b@example.no")

    async def merging() -> None:
        async with pool.acquire() as conn:
            assert await customers.merge(conn, one, two, "tests") is True

    await asyncio.gather(
        merging(),
        *(_attach(pool, email="b@example.no", phone=f"+47900000{i:02d}") for i in range(6)),
    )
    stray = await pool.fetchval(
        "SELECT count(*) FROM customer_identities i JOIN customers c ON c.id = i.customer_id"
        " WHERE c.merged_into IS NOT NULL"
    )
    assert stray == 0
    assert await pool.fetchval("SELECT count(*) FROM customer_identities") == 8
    assert await _customer_of(api, "b@example.no") == one
