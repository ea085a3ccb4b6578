"""Bad input anywhere: a 4xx problem naming the field, never a 5xx, nothing stored."""

import logging

import httpx
import pytest

from atp.validate import ID_RULE
from support.harness import Api, assert_problem, field_of

ADJUST = "/v1/stock/adjustments"
GOOD = {"sku": "A", "location": "S1", "delta": 5, "reason": "receipt"}


async def _nothing_stored(api: Api) -> None:
    position = await api.engine.availability.position("A", "S1")
    assert position.on_hand == 0


async def test_malformed_json_is_400(api: Api) -> None:
    r = await api.call(
        "POST", ADJUST, content=b'{"sku": "A",', headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "malformed-json")
    await _nothing_stored(api)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "delta": "5"}, "delta"),
        ({**GOOD, "delta": 5.5}, "delta"),
        ({**GOOD, "delta": True}, "delta"),
        ({k: v for k, v in GOOD.items() if k != "sku"}, "sku"),
        ({**GOOD, "extra": 1}, "extra"),
        ({**GOOD, "delta": 10**30}, "delta"),
        ({**GOOD, "delta": 2_000_000_000}, "delta"),
        ({**GOOD, "sku": "a" * 65}, "sku"),
        ({**GOOD, "sku": "{p01}"}, "sku"),
        ({**GOOD, "sku": ""}, "sku"),
        ({**GOOD, "reason": "gift"}, "reason"),
        ({**GOOD, "delta": 0}, "delta"),
        ({**GOOD, "delta": -5}, "delta"),  # a receipt must be positive
        ([GOOD], "body"),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(api: Api, body: object, field: str) -> None:
    r = await api.call("POST", ADJUST, json=body)
    problem = assert_problem(r, 422, "invalid-input")
    assert field_of(problem) == field
    await _nothing_stored(api)


async def test_nested_field_is_named_with_its_path(api: Api) -> None:
    body = {"channel": "online", "lines": [{"sku": "A", "location": "S1", "qty": "2"}]}
    r = await api.call("POST", "/v1/reservations", json=body)
    assert field_of(assert_problem(r, 422)) == "lines[0].qty"
    body = {"channel": "online", "lines": [{"sku": "A", "location": "S1"}]}
    r = await api.call("POST", "/v1/reservations", json=body)
    assert field_of(assert_problem(r, 422)) == "lines[0].qty"


async def test_missing_body_is_422(api: Api) -> None:
    r = await api.call("POST", ADJUST)
    assert field_of(assert_problem(r, 422)) == "body"


async def test_huge_body_is_413(api: Api) -> None:
    body = {**GOOD, "sku": "A", "pad": "x" * 300_000}
    r = await api.call("POST", ADJUST, json=body)
    assert_problem(r, 413, "body-too-large")
    await _nothing_stored(api)


async def test_huge_body_without_content_length_is_413(api: Api) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 10_000

    r = await api.call(
        "POST", ADJUST, content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(r, 413)


async def test_wrong_content_type_is_415(api: Api) -> None:
    r = await api.call("POST", ADJUST, content=b"sku=A", headers={"content-type": "text/plain"})
    assert_problem(r, 415)


async def test_bad_path_id_is_422(api: Api) -> None:
    r = await api.call("GET", "/v1/availability/%7Bp1%7D?location=S1")
    assert field_of(assert_problem(r, 422)) == "sku"


async def test_unknown_route_and_wrong_method_are_problems(api: Api) -> None:
    assert_problem(await api.call("GET", "/v1/nothing"), 404)
    r = await api.call("DELETE", "/v1/stock/adjustments")
    assert_problem(r, 405)
    assert "POST" in r.headers["allow"]


async def test_request_id_is_echoed_or_generated(api: Api) -> None:
    r = await api.call("GET", "/v1/availability/A?location=S1", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await api.call(
        "GET", "/v1/availability/A?location=S1", headers={"X-Request-ID": "bad id\t"}
    )
    generated = r.headers["x-request-id"]
    assert generated != "bad id\t" and len(generated) == 32
    r = await api.call("GET", "/v1/nothing", headers={"X-Request-ID": "req-9"})
    assert assert_problem(r, 404)["instance"] == "req-9"


async def test_redis_down_is_503(api: Api) -> None:
    await api.engine.redis.close()
    api.engine.redis.port = 7399  # type: ignore[attr-defined]  # nothing listens there
    r = await api.call("GET", "/v1/availability/A?location=S1")
    assert_problem(r, 503, "unavailable")
    assert r.headers["retry-after"] == "1"


async def test_routing_matches_like_starlette(api: Api) -> None:
    """The fast dispatch and FastAPI's router agree: a literal path with another method
    falls to the parametrised route; a known path with an unknown method is 405."""
    r = await api.call("GET", "/v1/availability/query?location=S1", "reader")
    assert r.status_code == 200 and r.json()["sku"] == "query"
    r = await api.call("PUT", "/v1/reservations", "admin")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, HEAD, POST"
    r = await api.call("HEAD", "/v1/availability/A?location=S1", "reader")
    assert r.status_code == 200


async def test_every_bad_field_of_a_body_is_reported(api: Api) -> None:
    body = {"sku": "a{b}", "location": "S1", "delta": "5", "reason": "gift"}
    problem = assert_problem(await api.call("POST", ADJUST, json=body), 422, "invalid-input")
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert list(errors) == ["sku", "delta", "reason"]
    assert errors["sku"] == ID_RULE  # the id rule in the engine's words, not a regex
    assert errors["delta"] == "Expected `int`, got `str`"
    assert problem["detail"] == f"sku: {ID_RULE} (and 2 more in errors)"
    await _nothing_stored(api)


async def test_missing_and_unknown_fields_are_each_reported(api: Api) -> None:
    body = {"location": "S1", "delta": 5, "colour": "red", "size": 4}
    problem = assert_problem(await api.call("POST", ADJUST, json=body), 422, "invalid-input")
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert errors == {
        "colour": "Object contains unknown field `colour`",
        "size": "Object contains unknown field `size`",
        "sku": "Object missing required field `sku`",
        "reason": "Object missing required field `reason`",
    }


async def test_nested_list_items_are_each_named(api: Api) -> None:
    lines = [
        {"sku": "A", "location": "S1", "qty": 1},
        {"sku": "A", "location": "S 2", "qty": 0},
        {"sku": "B", "qty": "2", "note": "x"},
    ]
    body = {"channel": "fax", "lines": lines, "ttl_seconds": 0}
    problem = assert_problem(await api.call("POST", "/v1/reservations", json=body), 422)
    fields = [e["field"] for e in problem["errors"]]
    assert fields == [
        "channel",
        "lines[1].location",
        "lines[1].qty",
        "lines[2].qty",
        "lines[2].note",
        "lines[2].location",
        "ttl_seconds",
    ]
    # The list's own bounds are named too, beside its items'.
    body = {"channel": "online", "lines": [], "id": "a b"}
    problem = assert_problem(await api.call("POST", "/v1/reservations", json=body), 422)
    assert [e["field"] for e in problem["errors"]] == ["lines", "id"]


async def test_tagged_union_items_name_their_fields(api: Api) -> None:
    sale = {
        "type": "sale",
        "event_id": "e1",
        "device_seq": 1,
        "occurred_at": "2026-12-03T10:00:00Z",
    }
    events = [
        {**sale, "sku": "A", "location": "S1", "qty": "one"},
        {**sale, "type": "void", "event_id": "e/2", "voids": "e1", "device_seq": -1},
        {**sale, "type": "refund"},
        {"event_id": "e4"},
    ]
    r = await api.call("POST", "/v1/pos/till-1/events", json={"events": events})
    problem = assert_problem(r, 422, "invalid-input")
    fields = [e["field"] for e in problem["errors"]]
    assert fields == [
        "events[0].qty",
        "events[1].event_id",
        "events[1].device_seq",
        "events[2].type",
        "events[3].type",
    ]


async def test_routing_method_union_names_its_fields(api: Api) -> None:
    body = {"lines": [{"sku": "A", "qty": 0}], "method": {"type": "ship", "lat": 95, "lon": "x"}}
    problem = assert_problem(await api.call("POST", "/v1/routing/plan", json=body), 422)
    assert [e["field"] for e in problem["errors"]] == ["lines[0].qty", "method.lat", "method.lon"]


async def test_malformed_json_after_a_bad_field_is_still_400(api: Api) -> None:
    r = await api.call(
        "POST",
        ADJUST,
        content=b'{"delta": "5", "sku": ',
        headers={"content-type": "application/json"},
    )
    assert_problem(r, 400, "malformed-json")
    r = await api.call(
        "POST", ADJUST, content=b"[1, 2", headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "malformed-json")


async def test_a_client_gone_mid_body_is_not_logged_as_an_error(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A load tool stopping mid-request disconnects before its body arrives: that is not
    a bug of ours, so no 'unhandled error' with a traceback."""
    transport = api.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    headers = [
        (b"authorization", api.auth("reader")["Authorization"].encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"100"),
    ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/availability/query", "raw_path": b"/v1/availability/query",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("atp.test", 80),
    }  # fmt: skip
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with caplog.at_level(logging.WARNING):
        await transport.app(scope, receive, send)  # type: ignore[arg-type]
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert sent and sent[0]["status"] == 400


async def test_a_literal_path_is_not_a_parameter_its_enum_refuses(api: Api) -> None:
    """PUT /v1/policies/audit: "audit" is no policy name (the {name} enum), and the audit
    is only read: 405 naming GET, not a policy write."""
    r = await api.call("PUT", "/v1/policies/audit", "admin", {"terms": {}, "text": "x"})
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, HEAD"
