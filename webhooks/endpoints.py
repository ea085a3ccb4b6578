"""Registering, listing and removing webhook endpoints (PostgreSQL)."""

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

import msgspec

from atp.model import InvalidInput
from atp.validate import check_id
from catalog.known import Kind, unknown_ids
from durability.db import Conn
from webhooks import targets
from webhooks.limits import ENDPOINTS_LISTED_MAX, ENDPOINTS_MAX, FILTER_ITEMS_MAX, SECRET_BYTES
from webhooks.types import EVENT_TYPES

CONSUMER = "webhooks"  # this package's row in change_consumers


class Endpoint(msgspec.Struct, frozen=True):
    """An endpoint as its owner sees it: never its secret."""

    id: str
    url: str
    types: list[str]
    skus: list[str]
    locations: list[str]
    groups: list[str]
    enabled: bool
    disabled_reason: str
    created_at: datetime
    created_by: str


class Filters(msgspec.Struct, frozen=True):
    types: list[str]
    skus: list[str] = []
    locations: list[str] = []
    groups: list[str] = []


def _checked_filters(filters: Filters) -> Filters:
    if not filters.types:
        raise InvalidInput("types", "name at least one event type")
    for i, kind in enumerate(filters.types):
        if kind not in EVENT_TYPES:
            raise InvalidInput(f"types[{i}]", f"must be among {', '.join(sorted(EVENT_TYPES))}")
    listed = {"skus": filters.skus, "locations": filters.locations, "groups": filters.groups}
    for name, values in listed.items():
        if len(values) > FILTER_ITEMS_MAX:
            raise InvalidInput(name, f"at most {FILTER_ITEMS_MAX} items")
        for i, value in enumerate(values):
            check_id(f"{name}[{i}]", value)
    return Filters(*(sorted(set(v)) for v in (filters.types, *listed.values())))


_KINDS: tuple[tuple[Kind, str], ...] = (
    ("sku", "skus"),
    ("location", "locations"),
    ("group", "groups"),
)


async def _refuse_unknown(conn: Conn, filters: Filters) -> None:
    """Ids the catalog knows do not exist, named as the body lists them."""
    for kind, field in _KINDS:
        values: list[str] = getattr(filters, field)
        unknown = await unknown_ids(conn, kind, values)  # type: ignore[arg-type]
        if unknown:
            at = values.index(unknown[0])
            raise InvalidInput(f"{field}[{at}]", f"the catalog has no {kind} {unknown[0]}")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


_HEAD = "SELECT COALESCE(max(seq), 0) FROM changes"
_CONSUMER = "INSERT INTO change_consumers (name, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING"
_INSERT = """
INSERT INTO webhook_endpoints
    (id, url, secret, types, skus, locations, groups, start_seq, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
_COLUMNS = ", ".join(Endpoint.__struct_fields__)


async def register(
    conn: Conn, url: str, filters: Filters, allow_private: bool, created_by: str = ""
) -> tuple[Endpoint, str]:
    """The endpoint and its secret (shown this once). It gets the changes after the feed's
    head now, never history."""
    await targets.resolve(url, allow_private)
    checked = _checked_filters(filters)
    async with conn.transaction():
        await _refuse_unknown(conn, filters)
        if await conn.fetchval("SELECT count(*) FROM webhook_endpoints") >= ENDPOINTS_MAX:
            raise InvalidInput("url", f"at most {ENDPOINTS_MAX} endpoints may be registered")
        head = await conn.fetchval(_HEAD)
        # The fan-out's cursor is never after an endpoint's start: created with it.
        await conn.execute(_CONSUMER, CONSUMER, head)
        endpoint_id, secret = "wh_" + secrets.token_hex(8), new_secret()
        args = (checked.types, checked.skus, checked.locations, checked.groups)
        await conn.execute(_INSERT, endpoint_id, url, secret, *args, head, created_by)
    found = await get(conn, endpoint_id)
    assert found is not None
    return found, secret


async def get(conn: Conn, endpoint_id: str) -> Endpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = $1", endpoint_id
    )
    return None if row is None else msgspec.convert(dict(row), Endpoint)


async def list_all(conn: Conn) -> list[Endpoint]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id LIMIT $1",
        ENDPOINTS_LISTED_MAX,
    )
    return [msgspec.convert(dict(r), Endpoint) for r in rows]


async def delete(conn: Conn, endpoint_id: str) -> bool:
    """Its deliveries go with it (a delivery in flight finishes, and is recorded nowhere)."""
    deleted = await conn.fetchval(
        "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING true", endpoint_id
    )
    return bool(deleted)


async def secret_of(conn: Conn, endpoint_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each endpoint's (url, secret), for the deliverer."""
    rows = await conn.fetch(
        "SELECT id, url, secret FROM webhook_endpoints WHERE id = ANY($1::text[])",
        list(endpoint_ids),
    )
    return {r["id"]: (r["url"], r["secret"]) for r in rows}
