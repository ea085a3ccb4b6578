"""Probes, metrics and the OpenAPI document."""

import re

from api.app import OPS
from api.health import LEDGER_MARKER
from support.harness import Api


async def test_healthz_and_readyz(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    r = await api.client.get("/readyz")
    assert r.status_code == 200
    checks = {"redis": True, "scripts": True, "ledger": True, "postgres": True}
    assert r.json()["checks"] == checks


async def test_readyz_fails_without_the_ledger(api: Api) -> None:
    await api.engine.redis.command("DEL", LEDGER_MARKER)
    r = await api.client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["ledger"] is False


async def test_readyz_reloads_scripts_a_redis_restart_dropped(api: Api) -> None:
    """Finding 12: scripts were loaded only at start-up, so after a Redis restart /readyz
    stayed 503 (scripts: false) while writes succeeded."""
    await api.engine.redis.command("SCRIPT", "FLUSH")
    r = await api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["scripts"] is True


async def test_metrics_count_requests_and_operations(api: Api) -> None:
    await api.call("GET", "/v1/availability/A?location=S1", "reader")
    await api.call(
        "POST",
        "/v1/stock/adjustments",
        "stock",
        json={"sku": "A", "location": "S1", "delta": -1, "reason": "damage"},
    )
    text = (await api.client.get("/metrics")).text
    assert (
        'atp_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/availability/{sku}",status="200"}'
        in text
    )
    assert 'atp_ledger_operations_total{operation="adjustStock",outcome="negative-on-hand"}' in text
    assert "atp_hold_expiries_total" in text


async def test_metrics_count_register_oversells(api: Api) -> None:
    event = {
        "type": "sale",
        "event_id": "e1",
        "device_seq": 1,
        "occurred_at": "2026-11-22T10:00:00Z",
        "sku": "A",
        "location": "S1",
        "qty": 2,
    }
    await api.call("POST", "/v1/pos/till-1/events", json={"events": [event]})
    text = (await api.client.get("/metrics")).text
    assert 'atp_pos_events_total{status="applied"}' in text
    oversold = re.search(r"^atp_pos_oversold_units_total (\S+)$", text, re.MULTILINE)
    assert oversold is not None and float(oversold.group(1)) >= 2  # counters are process-wide


async def test_openapi_describes_every_route_body_and_error(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    for op in OPS:
        operation = doc["paths"][op.path][op.method.lower()]
        assert operation["operationId"] == op.name
        if op.body is not None:
            assert "requestBody" in operation
        statuses = set(operation["responses"])
        assert {"401", "403", "429", "503"} <= statuses
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert "application/problem+json" in response["content"]
    schemas = doc["components"]["schemas"]
    assert schemas["LineIn"]["properties"]["qty"]["maximum"] == 1_000_000
    assert {"Problem", "ReserveBody", "AvailabilityRow", "PosBatch"} <= schemas.keys()
    assert (await api.client.get("/docs")).status_code == 200
