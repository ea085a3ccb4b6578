"""The access log: one JSON line per request on the ``atp.access`` logger (method, route
template, status, latency, key id, request id), and none at all when turned off."""

import json
import logging

import pytest
from starlette.types import Message, Receive, Send
from starlette.types import Scope as AsgiScope

from api.middleware import ACCESS_LOG, KEY_ID, RequestContext
from api.settings import from_env
from support.harness import Api

_EXPECTED_FIELDS = {"method", "route", "status", "latency_ms", "key_id", "request_id"}


def _records(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOG]


async def test_every_request_is_one_json_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOG)
    reply = await api.call("GET", "/v1/availability/SKU-1?location=S1", "reader")
    assert reply.status_code == 200
    missing = await api.call("GET", "/nowhere", "reader")
    assert missing.status_code == 404
    first, second = _records(caplog)
    assert set(first) == _EXPECTED_FIELDS
    assert first["method"] == "GET" and first["route"] == "/v1/availability/{sku}"
    assert first["status"] == 200 and first["request_id"] == reply.headers["x-request-id"]
    assert isinstance(first["latency_ms"], float) and first["latency_ms"] >= 0
    assert second["route"] == "unmatched" and second["status"] == 404


async def _app(asgi_scope: AsgiScope, receive: Receive, send: Send) -> None:
    asgi_scope[KEY_ID] = "k123"  # what authentication records for the log
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _call(middleware: RequestContext) -> None:
    asgi_scope: AsgiScope = {"type": "http", "method": "POST", "headers": [], "path": "/x"}

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    await middleware(asgi_scope, receive, send)


async def test_the_key_id_is_logged_when_authentication_set_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOG)
    await _call(RequestContext(_app, access_log=True))
    (record,) = _records(caplog)
    assert record["key_id"] == "k123" and record["status"] == 204


async def test_off_logs_nothing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOG)
    monkeypatch.setenv("ATP_ACCESS_LOG", "off")
    await _call(RequestContext(_app))  # the setting read from the environment
    assert _records(caplog) == []


def test_the_setting_is_read_from_the_environment() -> None:
    base = {"ATP_PG_DSN": "postgresql://postgres@127.0.0.1:5432/atp"}
    assert from_env(base).access_log is True
    assert from_env({**base, "ATP_ACCESS_LOG": "off"}).access_log is False
