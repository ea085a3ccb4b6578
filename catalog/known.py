"""Whether the catalog knows an id: filters and subscriptions naming a SKU, location or
group the catalog says does not exist are refused. A catalog with no rows of that kind
knows nothing (a retailer may run the engine without importing one): then every id passes.
"""

from collections.abc import Sequence
from typing import Literal

import asyncpg

Kind = Literal["sku", "location", "group"]
_TABLES: dict[Kind, tuple[str, str]] = {
    "sku": ("skus", "id"),
    "location": ("locations", "id"),
    "group": ("location_groups", "name"),
}


async def unknown_ids(
    conn: asyncpg.Connection | asyncpg.Pool, kind: Kind, ids: Sequence[str]
) -> list[str]:
    """The ids of ``ids`` the catalog knows do not exist, in the given order."""
    if not ids:
        return []
    table, column = _TABLES[kind]
    row = await conn.fetchrow(
        f"SELECT EXISTS (SELECT 1 FROM {table}) AS any_rows,"
        f" coalesce(array_agg({column}), '{{}}') AS found"
        f" FROM {table} WHERE {column} = ANY($1::text[])",
        list(ids),
    )
    assert row is not None
    if not row["any_rows"]:
        return []
    found = set(row["found"])
    return [i for i in ids if i not in found]
