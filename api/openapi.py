"""The OpenAPI 3.1 document, written from the operation table.

msgspec.json.schema_components emits the JSON Schemas (2020-12, as OpenAPI 3.1 uses);
FastAPI never sees the Structs. Error statuses each route can return come from the table
plus the steps every route shares (auth, rate limit, body, idempotency, Redis outage).
"""

from collections.abc import Sequence
from typing import Any

import msgspec

from api.ops import Op, Param
from api.problems import PROBLEM_CONTENT_TYPE, Problem
from api.schemas import Health
from api.settings import BODY_BYTES_MAX, IDEMPOTENCY_KEY_LENGTH_MAX, REQUEST_ID_LENGTH_MAX
from atp.actor import REFERENCE_HEADER, REFERENCE_LENGTH_MAX, REFERENCE_PATTERN

REF = "#/components/schemas/{name}"
_REASONS = {
    400: "Malformed JSON",
    401: "Missing, malformed or revoked API key",
    403: "The key lacks the scope, or may not write at this location",
    404: "Not found",
    409: "Refused in the current state (problem type says why), or a retry still in flight",
    413: f"Request body over {BODY_BYTES_MAX} bytes",
    415: "Body is not application/json",
    422: "Invalid input (errors name the fields), or an Idempotency-Key reused with another body",
    429: "Rate limit: see Retry-After",
    503: "The ledger (Redis) cannot be reached: retry after Retry-After",
}
_REQUEST_ID_HEADER = {
    "description": "echoed from the request, else generated; problems carry it as instance",
    "schema": {"type": "string"},
}
# Every write takes one (api/ops.py): the journal keeps it beside the calling key's id.
_REFERENCE_PARAMETER = {
    "name": REFERENCE_HEADER,
    "in": "header",
    "required": False,
    "description": "why or for what this write is made (a purchase order, an order id, a"
    " transfer, a free note): kept with each ledger event it appends and shown by"
    f" GET /v1/stock/{{sku}}/{{location}}/history; 1 to {REFERENCE_LENGTH_MAX} printable"
    " ASCII characters, not starting or ending with a space, else 422",
    "schema": {"type": "string", "pattern": REFERENCE_PATTERN},
}


def _parameter(p: Param) -> dict[str, Any]:
    schema = {"type": "array", "items": p.schema} if p.repeated else p.schema
    out: dict[str, Any] = {"name": p.name, "in": p.where, "required": p.required}
    out["schema"] = schema
    if p.description:
        out["description"] = p.description
    if p.repeated:
        out["style"], out["explode"] = "form", True
    return out


def _statuses(op: Op) -> list[int]:
    statuses = set(op.errors) | {503}
    if op.scope is not None:
        statuses |= {401, 403, 429}
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.idempotent:
        statuses |= {409, 422}
    if any(p.where == "path" for p in op.params) or op.is_write:
        statuses.add(422)
    return sorted(statuses)


def _operation(op: Op, refs: dict[Any, Any]) -> dict[str, Any]:
    params = [_parameter(p) for p in op.params]
    params.append(
        {
            "name": "X-Request-ID",
            "in": "header",
            "required": False,
            "description": f"echoed when it is 1 to {REQUEST_ID_LENGTH_MAX} of A-Z a-z 0-9 . _ : -;"
            " otherwise replaced by a generated one (never refused)",
            "schema": {"type": "string"},
        }
    )
    if op.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "a retry with the same key returns the first response",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_LENGTH_MAX,
                },
            }
        )
    if op.is_write:
        params.append(_REFERENCE_PARAMETER)
    headers = {"X-Request-ID": _REQUEST_ID_HEADER}
    responses: dict[str, Any] = {}
    for status, kind in sorted(op.ok.items()):
        content = {"application/json": {"schema": refs[kind]}}
        responses[str(status)] = {"description": "OK", "headers": headers, "content": content}
    for status in _statuses(op):
        content = {PROBLEM_CONTENT_TYPE: {"schema": refs[Problem]}}
        responses[str(status)] = {"description": _REASONS.get(status, "Error"), "content": content}
        responses[str(status)]["headers"] = headers
    out: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": [op.tag] if op.tag else [],
        "parameters": params,
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if op.scope is not None:
        out["security"] = [{"bearer": [op.scope.value]}]
        out["description"] = f"Scope `{op.scope.value}`. " + out.get("description", "")
    if op.body is not None:
        out["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": refs[op.body]}},
        }
    return out


def _health_paths(refs: dict[Any, Any]) -> dict[str, Any]:
    health = {"application/json": {"schema": refs[Health]}}
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Process is alive",
                "responses": {"200": {"description": "alive", "content": health}},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Redis reachable, scripts loaded, ledger present",
                "responses": {
                    "200": {"description": "ready", "content": health},
                    "503": {"description": "not ready", "content": health},
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def document(ops: Sequence[Op], title: str, version: str) -> dict[str, Any]:
    types: list[Any] = [Problem, Health]
    for op in ops:
        types += [op.body] if op.body is not None else []
        types += list(op.ok.values())
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template=REF)
    refs = dict(zip(unique, schemas, strict=True))
    paths: dict[str, Any] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    paths.update(_health_paths(refs))
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
