"""Reservations over HTTP: holds, retries, shortfalls, transitions, listing."""

from support.harness import Api, assert_problem, field_of

RES = "/v1/reservations"


def hold(
    rid: str | None = "r1", qty: int = 2, sku: str = "A", **extra: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "channel": "online",
        "lines": [{"sku": sku, "location": "S1", "qty": qty}],
    }
    if rid is not None:
        body["id"] = rid
    return {**body, **extra}


async def _stock(api: Api, qty: int = 10) -> None:
    await api.engine.stock.adjust("A", "S1", qty, "receipt")
    await api.engine.stock.adjust("B", "S1", qty, "receipt")


async def test_hold_and_repost(api: Api) -> None:
    await _stock(api)
    r = await api.call("POST", RES, "oms", json=hold(ttl_seconds=60))
    assert r.status_code == 201
    body = r.json()
    assert body["id"] == "r1" and body["state"] == "held" and body["expires_at"]
    assert body["lines"] == [
        {
            "sku": "A",
            "location": "S1",
            "qty": 2,
            "open": 2,
            "fulfilled": 0,
            "released": 0,
            "expired": 0,
        }
    ]
    again = await api.call("POST", RES, "oms", json=hold(ttl_seconds=60))
    # The same reservation; a repeat changed no position, so it reports none.
    first = {k: v for k, v in body.items() if k != "positions"}
    assert again.status_code == 200 and again.json() == first
    assert (await api.engine.availability.position("A", "S1")).reserved == 2
    r = await api.call("POST", RES, "oms", json=hold(qty=3, ttl_seconds=60))
    assert_problem(r, 409, "reservation-conflict")


async def test_generated_and_idempotency_derived_ids(api: Api) -> None:
    await _stock(api)
    first = await api.call(
        "POST", RES, "oms", json=hold(None), headers={"Idempotency-Key": "cart-7"}
    )
    again = await api.call(
        "POST", RES, "oms", json=hold(None), headers={"Idempotency-Key": "cart-7"}
    )
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = await api.call("POST", RES, "oms", json=hold(None))
    assert other.json()["id"] != first.json()["id"]
    assert (await api.engine.availability.position("A", "S1")).reserved == 4


async def test_shortfall_reserves_nothing(api: Api) -> None:
    await _stock(api, 3)
    body = {
        "id": "r2",
        "channel": "online",
        "lines": [
            {"sku": "A", "location": "S1", "qty": 2},
            {"sku": "B", "location": "S1", "qty": 5},
        ],
    }
    problem = assert_problem(await api.call("POST", RES, "oms", json=body), 409, "insufficient")
    assert problem["shortfalls"] == [{"sku": "B", "location": "S1", "requested": 5, "available": 3}]
    assert (await api.engine.availability.position("A", "S1")).reserved == 0
    assert_problem(await api.call("GET", f"{RES}/r2", "oms"), 404)


async def test_duplicate_lines_and_bad_fields_are_422(api: Api) -> None:
    body = {"channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": 1}] * 2}
    assert (
        field_of(assert_problem(await api.call("POST", RES, "oms", json=body), 422)) == "lines[1]"
    )
    r = await api.call("POST", RES, "oms", json=hold(ttl_seconds=0))
    assert field_of(assert_problem(r, 422)) == "ttl_seconds"
    r = await api.call("POST", RES, "oms", json={**hold(), "lines": []})
    assert field_of(assert_problem(r, 422)) == "lines"
    r = await api.call("POST", RES, "oms", json=hold(qty=2_000_000))
    assert field_of(assert_problem(r, 422)) == "lines[0].qty"


async def test_commit_fulfil_partially_then_release_the_rest(api: Api) -> None:
    await _stock(api)
    await api.call("POST", RES, "oms", json=hold(qty=4))
    assert_problem(await api.call("POST", f"{RES}/r1/fulfill", "oms"), 409, "illegal-transition")
    r = await api.call("POST", f"{RES}/r1/commit", "oms")
    assert (
        r.status_code == 200 and r.json()["state"] == "committed" and r.json()["expires_at"] is None
    )
    part = {"lines": [{"sku": "A", "location": "S1", "qty": 1}]}
    r = await api.call("POST", f"{RES}/r1/fulfill", "oms", json=part)
    assert r.json()["state"] == "committed" and r.json()["lines"][0]["fulfilled"] == 1
    too_many = {"lines": [{"sku": "A", "location": "S1", "qty": 9}]}
    assert_problem(
        await api.call("POST", f"{RES}/r1/fulfill", "oms", json=too_many), 409, "exceeds-open"
    )
    unknown = {"lines": [{"sku": "Z", "location": "S1", "qty": 1}]}
    assert_problem(
        await api.call("POST", f"{RES}/r1/fulfill", "oms", json=unknown), 422, "unknown-line"
    )
    r = await api.call("POST", f"{RES}/r1/release", "oms")
    assert r.json()["state"] == "fulfilled"  # a unit was fulfilled
    position = await api.engine.availability.position("A", "S1")
    assert (position.on_hand, position.reserved) == (9, 0)


async def test_release_twice_is_a_noop(api: Api) -> None:
    await _stock(api)
    await api.call("POST", RES, "oms", json=hold())
    first = await api.call("POST", f"{RES}/r1/release", "oms")
    again = await api.call("POST", f"{RES}/r1/release", "oms")
    assert first.status_code == again.status_code == 200
    assert again.json()["state"] == "released"
    assert (await api.engine.availability.position("A", "S1")).reserved == 0


async def test_partial_release_with_idempotency_key_retries_safely(api: Api) -> None:
    await _stock(api)
    await api.call("POST", RES, "oms", json=hold(qty=4))
    part = {"lines": [{"sku": "A", "location": "S1", "qty": 1}]}
    for _ in range(3):
        r = await api.call(
            "POST", f"{RES}/r1/release", "oms", json=part, headers={"Idempotency-Key": "rel-1"}
        )
        assert r.status_code == 200
    assert (await api.engine.availability.position("A", "S1")).reserved == 3


async def test_commit_after_expiry_is_409_with_state(api: Api) -> None:
    await _stock(api)
    await api.call("POST", RES, "oms", json=hold(ttl_seconds=5))
    api.clock.advance(6_000)
    problem = assert_problem(
        await api.call("POST", f"{RES}/r1/commit", "oms"), 409, "reservation-expired"
    )
    assert problem["state"] == "expired"
    assert (await api.engine.availability.position("A", "S1")).reserved == 0
    assert_problem(await api.call("POST", f"{RES}/r1/extend", "oms", json={"ttl_seconds": 60}), 409)


async def test_extend(api: Api) -> None:
    await _stock(api)
    first = (await api.call("POST", RES, "oms", json=hold(ttl_seconds=5))).json()
    r = await api.call("POST", f"{RES}/r1/extend", "oms", json={"ttl_seconds": 600})
    assert r.status_code == 200 and r.json()["expires_at"] > first["expires_at"]
    api.clock.advance(6_000)
    assert (await api.call("POST", f"{RES}/r1/commit", "oms")).status_code == 200
    assert_problem(
        await api.call("POST", f"{RES}/r1/extend", "oms", json={"ttl_seconds": 60}),
        409,
        "illegal-transition",
    )


async def test_unknown_reservation_is_404_everywhere(api: Api) -> None:
    for method, path, body in [
        ("GET", "/v1/reservations/nope", None),
        ("POST", "/v1/reservations/nope/commit", None),
        ("POST", "/v1/reservations/nope/extend", {"ttl_seconds": 9}),
        ("POST", "/v1/reservations/nope/fulfill", None),
        ("POST", "/v1/reservations/nope/release", None),
    ]:
        assert_problem(await api.call(method, path, "oms", json=body), 404, "reservation-not-found")


async def test_list_with_filters_and_cursor(api: Api) -> None:
    await _stock(api, 100)
    await api.engine.stock.adjust("A", "S2", 100, "receipt")
    for i in range(7):
        await api.call("POST", RES, "oms", json=hold(f"r{i}", qty=1))
    await api.call(
        "POST",
        RES,
        "oms",
        json={"id": "s2", "channel": "online", "lines": [{"sku": "A", "location": "S2", "qty": 1}]},
    )
    await api.call("POST", f"{RES}/r3/commit", "oms")
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.call("GET", f"{RES}?{query}", "oms")).json()
        assert len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([f"r{i}" for i in range(7)] + ["s2"])
    r = await api.call("GET", f"{RES}?state=committed", "oms")
    assert [x["id"] for x in r.json()["items"]] == ["r3"]
    r = await api.call("GET", f"{RES}?location=S2", "oms")
    assert [x["id"] for x in r.json()["items"]] == ["s2"]
    assert (
        field_of(assert_problem(await api.call("GET", f"{RES}?state=open", "oms"), 422)) == "state"
    )
    assert (
        field_of(assert_problem(await api.call("GET", f"{RES}?limit=1000", "oms"), 422)) == "limit"
    )
    assert (
        field_of(assert_problem(await api.call("GET", f"{RES}?cursor=%%%", "oms"), 422)) == "cursor"
    )


async def test_sweeper_expiry_shows_in_state(api: Api) -> None:
    await _stock(api)
    await api.call("POST", RES, "oms", json=hold(ttl_seconds=1))
    api.clock.advance(2_000)
    assert await api.engine.sweeper.sweep_once() == 1
    assert (await api.call("GET", f"{RES}/r1", "oms")).json()["state"] == "expired"


async def test_writes_answer_with_the_positions_after_them(api: Api) -> None:
    await api.engine.stock.adjust("A", "S1", 5, "receipt")
    await api.engine.stock.adjust("B", "S2", 3, "receipt")
    body = {
        "id": "r-pos",
        "channel": "online",
        "lines": [
            {"sku": "A", "location": "S1", "qty": 2},
            {"sku": "B", "location": "S2", "qty": 1},
        ],
    }
    r = await api.call("POST", "/v1/reservations", "oms", body)
    assert r.status_code == 201, r.text
    after = {
        (p["sku"], p["location"]): (p["on_hand"], p["reserved"], p["atp"])
        for p in r.json()["positions"]
    }
    assert after == {("A", "S1"): (5, 2, 3), ("B", "S2"): (3, 1, 2)}
    again = await api.call("POST", "/v1/reservations", "oms", body)
    assert again.status_code == 200 and "positions" not in again.json()  # nothing changed
    assert (await api.call("POST", "/v1/reservations/r-pos/commit", "oms")).status_code == 200
    r = await api.call(
        "POST",
        "/v1/reservations/r-pos/fulfill",
        "oms",
        {"lines": [{"sku": "A", "location": "S1", "qty": 1}]},
    )
    assert r.status_code == 200, r.text
    assert [(p["sku"], p["on_hand"], p["reserved"]) for p in r.json()["positions"]] == [("A", 4, 1)]
    r = await api.call("POST", "/v1/reservations/r-pos/release", "oms")
    after = {
        (p["sku"], p["location"]): (p["on_hand"], p["reserved"]) for p in r.json()["positions"]
    }
    assert after == {("A", "S1"): (4, 0), ("B", "S2"): (3, 0)}
