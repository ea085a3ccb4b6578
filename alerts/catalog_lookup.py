"""What alerts ask of the PostgreSQL catalog (migrations/0001_catalog.sql): whether a
subscription's SKU, location or group exists, a group's members, locations' names.

The catalog "knows" a kind of id once its table holds any row: then an id missing from it
does not exist and is refused (422 naming the field). An empty table knows nothing (the
ledger keeps no catalog and reads unknown ids as zero), so any id is accepted.
"""

from collections.abc import Sequence
from typing import cast

import asyncpg

from atp.model import InvalidInput
from catalog.known import unknown_ids
from durability.db import Conn


async def check_known(conn: Conn, sku: str, location: str | None, group: str | None) -> None:
    """Refuses (422 naming the field) what the catalog knows does not exist
    (catalog/known.py: the rule webhook filters follow too)."""
    # unknown_ids names a bare connection or a pool; one borrowed from a pool is the same.
    bare = cast("asyncpg.Connection[asyncpg.Record]", conn)
    if await unknown_ids(bare, "sku", [sku]):
        raise InvalidInput("sku", f"unknown SKU {sku!r}: the catalog does not list it")
    if location is not None and await unknown_ids(bare, "location", [location]):
        raise InvalidInput("location", f"unknown location {location!r}: not in the catalog")
    if group is not None and await unknown_ids(bare, "group", [group]):
        raise InvalidInput("group", f"unknown location group {group!r}: not in the catalog")


async def group_members(conn: Conn, group: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT location_id FROM location_group_members WHERE group_name = $1 ORDER BY location_id",
        group,
    )
    return [r["location_id"] for r in rows]


async def location_names(conn: Conn, locations: Sequence[str]) -> dict[str, str]:
    """id -> the catalog's name; an id the catalog lacks names itself."""
    rows = await conn.fetch(
        "SELECT id, name FROM locations WHERE id = ANY($1::text[])", list(locations)
    )
    names = {r["id"]: r["name"] for r in rows}
    return {loc: names.get(loc) or loc for loc in locations}
