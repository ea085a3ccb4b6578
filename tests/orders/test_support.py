"""Order-aware support over HTTP (orders/support.py, orders/support_tickets.py,
api/routes_support.py): the lookup by order id, email or phone across channels with the
reply for the order's situation, the availability explanation for a disputed promise,
tickets and replies, first-contact resolution, and bad input that stores nothing."""

import datetime as dt
from typing import Any

import asyncpg

from api.auth import Scope
from api.keystore import create_key
from orders.support import first_contact_resolution
from support.harness import Api, assert_problem, field_of
from support.order_world import pickup, shipped, shop

__all__ = ["shop"]


async def _place(api: Api, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await api.call("POST", "/v1/orders", kind, body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _lookup(api: Api, q: str, **more: str) -> dict[str, Any]:
    r = await api.call("GET", "/v1/support/lookup", params={"q": q, **more})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _picked_up(api: Api, order_id: str) -> None:
    assert (await api.call("POST", f"/v1/orders/{order_id}/confirm", "orders")).status_code == 200
    for step in ("picking", "staged", "ready", "picked_up"):
        r = await api.call("POST", f"/v1/orders/{order_id}/pickup/{step}", "pos")
        assert r.status_code == 200, r.text


async def test_lookup_by_order_email_or_phone_finds_one_customer_across_channels(
    shop: Api,
) -> None:
    await _place(shop, "orders", pickup("web-1"))
    aisle = {**pickup("aisle-1", 2), "channel": "store", "customer": {"email": "KARI@example.no"}}
    await _place(shop, "pos", aisle)
    await _place(shop, "orders", shipped("web-2", ("B", 1)))  # someone else (c-7)

    by_email = await _lookup(shop, " Kari@Example.NO ")
    assert by_email["query"] == {"kind": "email", "value": "kari@example.no"}
    assert by_email["customer"]["name"] == "Kari"
    ids = [o["order"]["id"] for o in by_email["orders"]]
    assert ids == ["aisle-1", "web-1"]  # newest first, both channels, not web-2
    assert {o["order"]["channel"] for o in by_email["orders"]} == {"store", "online"}
    first = by_email["orders"][0]
    assert first["pickup"]["promise_text"] and first["pickup"]["promised_at"]
    assert first["pickup"]["state"] == "placed" and first["pickup"]["late"] is False
    assert [(p["name"], p["version"]) for p in by_email["policies"]] == [("pickup", 1)]
    assert "72 hours" in by_email["policies"][0]["rendered"]
    assert by_email["reply"]["situation"] == "in_progress"

    by_phone = await _lookup(shop, "0047 912 34 567")
    assert by_phone["query"]["kind"] == "phone"
    assert by_phone["customer"]["id"] == by_email["customer"]["id"]
    assert {o["order"]["id"] for o in by_phone["orders"]} == {"aisle-1", "web-1"}

    by_order = await _lookup(shop, "web-1")
    assert by_order["query"]["kind"] == "order"
    assert by_order["orders"][0]["order"]["id"] == "web-1"  # asked first
    assert by_order["customer"]["id"] == by_email["customer"]["id"]

    missing = await shop.call("GET", "/v1/support/lookup", params={"q": "no-such-order"})
    assert_problem(missing, 404, "nothing-found")


async def test_a_late_pickup_gets_the_late_reply_quoting_the_pickup_policy(shop: Api) -> None:
    placed = await _place(shop, "orders", pickup("web-9"))
    await shop.call("POST", "/v1/orders/web-9/confirm", "orders")
    promised = dt.datetime.fromisoformat(placed["promised_at"])
    now = dt.datetime.fromtimestamp(shop.clock.now_ms() / 1000, dt.UTC)
    shop.clock.advance(int((promised - now).total_seconds() * 1000) + 60_000)

    got = await _lookup(shop, "web-9")
    assert got["orders"][0]["pickup"]["late"] is True
    reply = got["reply"]
    assert reply["situation"] == "late_pickup"
    assert (reply["policy"], reply["version"]) == ("pickup", 1)
    assert "not ready yet" in reply["text"] and "72 hours" in reply["text"]
    assert placed["promise_text"] in reply["text"]


async def test_a_received_return_is_a_pending_refund_with_the_returns_policy(shop: Api) -> None:
    await _place(shop, "orders", pickup("web-4"))
    await _picked_up(shop, "web-4")
    ret = {
        "id": "ret-4",
        "order_id": "web-4",
        "location": "S1",
        "lines": [{"sku": "A", "qty": 1, "reason": "changed_mind", "condition": "new"}],
    }
    r = await shop.call("POST", "/v1/returns", "pos", ret)
    assert r.status_code == 201, r.text

    got = await _lookup(shop, "kari@example.no")
    (order,) = got["orders"]
    assert order["pickup"]["state"] == "picked_up"
    (returned,) = order["returns"]
    assert returned["state"] == "received" and returned["refund"] == "pending"
    assert returned["refund_amount"] == "199.00"
    assert {p["name"] for p in got["policies"]} >= {"pickup", "returns"}
    assert got["reply"]["situation"] == "refund_pending"
    assert got["reply"]["policy"] in {"refunds", "returns"}


async def test_a_shipped_order_answers_its_tracking(shop: Api) -> None:
    await _place(shop, "orders", shipped("web-3", ("B", 1)))
    await shop.call("POST", "/v1/orders/web-3/confirm", "orders")
    shipment = {"location": "W1", "lines": [{"sku": "B", "qty": 1}], "carrier": "Posten"}
    r = await shop.call(
        "POST", "/v1/orders/web-3/shipments", "orders", {**shipment, "tracking": "TR-1"}
    )
    assert r.status_code == 201, r.text
    got = await _lookup(shop, "web-3")
    (order,) = got["orders"]
    assert order["pickup"] is None
    assert [(s["carrier"], s["tracking"]) for s in order["order"]["shipped"]] == [
        ("Posten", "TR-1")
    ]
    assert got["reply"]["situation"] == "shipped" and "Posten TR-1" in got["reply"]["text"]


async def test_a_disputed_promise_shows_the_availability_explanation_then(shop: Api) -> None:
    await _place(shop, "orders", pickup("web-5"))
    at = dt.datetime.fromtimestamp(shop.clock.now_ms() / 1000, dt.UTC).isoformat()
    got = await _lookup(shop, "web-5", sku="A", location="S1", at=at)
    explained = got["explanation"]
    assert explained["sku"] == "A" and explained["location"] == "S1"
    assert explained["on_hand"] == 10
    partial = await shop.call(
        "GET", "/v1/support/lookup", params={"q": "web-5", "sku": "A", "at": at}
    )
    assert_problem(partial, 422, "invalid-input")
    assert field_of(partial.json()) == "location"


async def test_bad_lookups_name_q(shop: Api) -> None:
    for q in ("", "kari@", "+12"):
        r = await shop.call("GET", "/v1/support/lookup", params={"q": q})
        assert_problem(r, 422, "invalid-input")
        assert field_of(r.json()) == "q", q


async def test_a_store_bound_key_never_sees_customer_data(shop: Api) -> None:
    await _place(shop, "orders", pickup("web-6"))
    pool = shop.services.pool
    async with pool.acquire() as conn:
        scopes = [Scope.support_read, Scope.support_write]
        shop.keys["store-support"] = (await create_key(conn, scopes, ["S1"], "s"))[1]
        shop.keys["support"] = (await create_key(conn, scopes, [], "s"))[1]
    r = await shop.call("GET", "/v1/support/lookup", "store-support", params={"q": "web-6"})
    assert r.status_code == 403, r.text
    r = await shop.call("GET", "/v1/support/lookup", "support", params={"q": "web-6"})
    assert r.status_code == 200, r.text


async def test_tickets_and_replies_are_recorded_once_and_resolve_once(shop: Api) -> None:
    await _place(shop, "orders", pickup("web-7"))
    ticket = {"id": "t-1", "order_id": "web-7", "topic": "late_pickup", "channel": "chat"}
    r = await shop.call("POST", "/v1/support/tickets", json=ticket)
    assert r.status_code == 201, r.text
    assert r.json()["opened_at"] and r.json()["resolved_at"] is None
    again = await shop.call("POST", "/v1/support/tickets", json=ticket)
    assert again.status_code == 200 and again.json() == r.json()
    other = await shop.call("POST", "/v1/support/tickets", json={**ticket, "topic": "refund"})
    assert_problem(other, 409, "ticket-conflict")
    assert field_of(other.json()) == "id"

    path = "/v1/support/tickets/t-1/replies"
    await shop.call("POST", path, json={"author": "customer", "body": "Where is it?"})
    done = await shop.call(
        "POST", path, json={"author": "agent", "body": "Ready.", "resolves": True}
    )
    assert done.status_code == 201, done.text
    resolved_at = done.json()["resolved_at"]
    assert resolved_at is not None
    shop.clock.advance(60_000)
    later = await shop.call(
        "POST", path, json={"author": "agent", "body": "Anything else?", "resolves": True}
    )
    body = later.json()
    assert body["resolved_at"] == resolved_at  # set once
    assert (body["agent_replies"], body["customer_replies"]) == (2, 1)
    assert [x["seq"] for x in body["replies"]] == [1, 2, 3]
    got = await shop.call("GET", "/v1/support/tickets/t-1")
    assert got.json() == body
    assert_problem(await shop.call("GET", "/v1/support/tickets/nope"), 404, "ticket-not-found")


async def test_bad_ticket_input_names_the_field_and_stores_nothing(shop: Api) -> None:
    good = {"id": "t-2", "topic": "other", "channel": "email"}
    cases = [
        ({**good, "order_id": "no-such"}, "order_id"),
        ({**good, "customer_id": "cus-nope"}, "customer_id"),
        ({**good, "topic": "weather"}, "topic"),
        ({**good, "channel": "fax"}, "channel"),
    ]
    for body, field in cases:
        r = await shop.call("POST", "/v1/support/tickets", json=body)
        assert_problem(r, 422, "invalid-input")
        assert field_of(r.json()) == field, r.text
    pool = shop.services.pool
    assert await pool.fetchval("SELECT count(*) FROM support_tickets") == 0
    assert (await shop.call("POST", "/v1/support/tickets", json=good)).status_code == 201
    path = "/v1/support/tickets/t-2/replies"
    for reply, field in [
        ({"author": "agent", "body": "  "}, "body"),
        ({"author": "customer", "body": "hi", "resolves": True}, "resolves"),
        ({"author": "bot", "body": "hi"}, "author"),
    ]:
        r = await shop.call("POST", path, json=reply)
        assert_problem(r, 422, "invalid-input")
        assert field_of(r.json()) == field, r.text
    assert await pool.fetchval("SELECT count(*) FROM support_replies") == 0
    missing = await shop.call(
        "POST", "/v1/support/tickets/nope/replies", json={"author": "agent", "body": "x"}
    )
    assert_problem(missing, 404, "ticket-not-found")


async def _ticket(
    pool: asyncpg.Pool, tid: str, order: str | None, channel: str, replies: str, day: int = 1
) -> None:
    """A ticket opened on December ``day``, its replies by author initial ('ca': a
    customer's, then an agent's); resolved when an agent replied."""
    opened = dt.datetime(2026, 12, day, 10, tzinfo=dt.UTC)
    await pool.execute(
        "INSERT INTO support_tickets (id, order_id, topic, channel, opened_at, resolved_at,"
        " agent_replies, customer_replies) VALUES ($1, $2, 'other', $3, $4, $5, $6, $7)",
        tid,
        order,
        channel,
        opened,
        opened if "a" in replies else None,
        replies.count("a"),
        replies.count("c"),
    )
    for i, who in enumerate(replies, 1):
        author = "agent" if who == "a" else "customer"
        await pool.execute(
            "INSERT INTO support_replies (ticket_id, seq, author, body, at)"
            " VALUES ($1, $2, $3, 'x', $4)",
            tid,
            i,
            author,
            opened,
        )


async def test_first_contact_resolution_counts_single_reply_resolved_order_tickets(
    shop: Api,
) -> None:
    await _place(shop, "orders", pickup("web-8"))  # at S1
    await _place(shop, "orders", shipped("web-10", ("B", 1)))  # no store
    pool = shop.services.pool
    await _ticket(pool, "fcr", "web-8", "chat", "ca")  # first contact
    await _ticket(pool, "two", "web-8", "chat", "caa")  # two agent replies
    await _ticket(pool, "back", "web-8", "email", "cac")  # the customer came back
    await _ticket(pool, "open", "web-8", "chat", "c")  # unresolved: not counted
    await _ticket(pool, "no-order", None, "chat", "ca")  # no order: not counted
    await _ticket(pool, "shipped", "web-10", "phone", "a")
    await _ticket(pool, "later", "web-8", "chat", "ca", day=20)  # outside the period
    since, until = dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
    async with pool.acquire() as conn:
        assert await first_contact_resolution(conn, since=since, until=until) == (2, 4)
        at_s1 = await first_contact_resolution(conn, since=since, until=until, location="S1")
        assert at_s1 == (1, 3)
        chat = await first_contact_resolution(conn, since=since, until=until, channel="chat")
        assert chat == (1, 2)


async def test_a_retried_reply_with_its_idempotency_key_is_counted_once(shop: Api) -> None:
    ticket = {"id": "t-3", "topic": "where_is_my_order", "channel": "phone"}
    assert (await shop.call("POST", "/v1/support/tickets", json=ticket)).status_code == 201
    reply = {"author": "agent", "body": "On its way.", "resolves": True}
    path, key = "/v1/support/tickets/t-3/replies", {"Idempotency-Key": "reply-1"}
    first = await shop.call("POST", path, json=reply, headers=key)
    again = await shop.call("POST", path, json=reply, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    got = (await shop.call("GET", "/v1/support/tickets/t-3")).json()
    assert got["agent_replies"] == 1 and len(got["replies"]) == 1
