"""Creating, listing and revoking API keys in PostgreSQL (the record; see api/auth.py)."""

import secrets
from collections.abc import Iterable
from datetime import datetime

import msgspec

from api.auth import Scope, digest, key_id_of
from atp.model import Channel, InvalidInput
from atp.validate import check_id
from durability.db import Queryable

KEY_NAME_LENGTH_MAX = 100
KEY_RATE_PER_S_MAX = 1_000_000.0
KEYS_LISTED_MAX = 1_000


class KeyInfo(msgspec.Struct, frozen=True):
    """A key as an operator sees it: never its secret."""

    key_id: str
    name: str
    scopes: list[Scope]
    locations: list[str] | None  # null: any location
    channels: list[Channel]
    rate_per_s: float | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


def default_channels(scopes: Iterable[Scope], locations: Iterable[str]) -> list[Channel]:
    """A store's register sells at the counter; anything else is an online caller; an admin
    key may use both."""
    if Scope.admin in set(scopes):
        return sorted(Channel)
    return [Channel.store] if list(locations) else [Channel.online]


def _checked(
    scopes: Iterable[Scope | str],
    locations: Iterable[str],
    channels: Iterable[Channel | str] | None,
    name: str,
    rate_per_s: float | None,
) -> tuple[list[Scope], list[str], list[Channel]]:
    try:
        scope_list = sorted({Scope(s) for s in scopes})
    except ValueError:
        raise InvalidInput("scopes", f"must be among {', '.join(Scope)}") from None
    if not scope_list:
        raise InvalidInput("scopes", "a key needs at least one scope")
    location_list = sorted({check_id("locations", loc) for loc in locations})
    try:
        channel_list = (
            default_channels(scope_list, location_list)
            if channels is None
            else sorted({Channel(c) for c in channels})
        )
    except ValueError:
        raise InvalidInput("channels", f"must be among {', '.join(Channel)}") from None
    if not channel_list:
        raise InvalidInput("channels", "a key needs at least one channel")
    if len(name) > KEY_NAME_LENGTH_MAX:
        raise InvalidInput("name", f"must be at most {KEY_NAME_LENGTH_MAX} characters")
    if rate_per_s is not None and not 0 < rate_per_s <= KEY_RATE_PER_S_MAX:
        raise InvalidInput("rate_per_s", f"must be above 0 and at most {KEY_RATE_PER_S_MAX:g}")
    return scope_list, location_list, channel_list


async def create_key(
    conn: Queryable,
    scopes: Iterable[Scope | str],
    locations: Iterable[str] = (),
    name: str = "",
    rate_per_s: float | None = None,
    channels: Iterable[Channel | str] | None = None,
    created_by: str = "",
) -> tuple[str, str]:
    """Returns (key id, key). The key is shown once; only its hash is kept."""
    scope_list, location_list, channel_list = _checked(
        scopes, locations, channels, name, rate_per_s
    )
    key_id = secrets.token_hex(6)
    key = f"atp_{key_id}_{secrets.token_urlsafe(32)}"
    await conn.execute(
        "INSERT INTO api_keys"
        " (key_id, digest, name, scopes, locations, channels, rate_per_s, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        key_id,
        digest(key),
        name,
        [s.value for s in scope_list],
        location_list or None,
        [c.value for c in channel_list],
        rate_per_s,
        created_by,
    )
    return key_id, key


async def revoke_key(conn: Queryable, key_or_id: str) -> bool:
    """True when a live key was revoked now; a revoked key stays listed (audit)."""
    done = await conn.fetchval(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL"
        " RETURNING true",
        key_id_of(key_or_id),
    )
    return bool(done)


_COLUMNS = ", ".join(KeyInfo.__struct_fields__)


async def get_key(conn: Queryable, key_id: str) -> KeyInfo | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = $1", key_id)
    return None if row is None else msgspec.convert(dict(row), KeyInfo)


async def list_keys(conn: Queryable, include_revoked: bool = False) -> list[KeyInfo]:
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at, key_id LIMIT $1",
        KEYS_LISTED_MAX,
    )
    return [msgspec.convert(dict(r), KeyInfo) for r in rows]
