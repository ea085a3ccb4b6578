"""The versioned policies orders are judged by (migrations/0011_orders.sql): the one in force
is a name's highest version. Returns answer with the version they were checked against; a
ready pickup order is a no-show once the pickup policy's window has passed."""

from typing import Any, Final

import msgspec

from durability.db import Conn

RETURNS: Final = "returns"  # terms: window_days, conditions
PICKUP: Final = "pickup"  # terms: collect_within_hours

_IN_FORCE = """
SELECT name, version, terms::text AS terms, text FROM policies
WHERE name = $1 ORDER BY version DESC LIMIT 1
"""


class Policy(msgspec.Struct, frozen=True):
    name: str
    version: int
    terms: dict[str, Any]
    text: str


class NoPolicy(LookupError):
    """No version of the policy exists: the migration seeds one of each, so a deleted row."""


async def in_force(conn: Conn, name: str) -> Policy:
    row = await conn.fetchrow(_IN_FORCE, name)
    if row is None:
        raise NoPolicy(name)
    terms = msgspec.json.decode(row["terms"], type=dict[str, Any])
    return Policy(row["name"], row["version"], terms, row["text"])
