"""API keys: ``Authorization: Bearer atp_<key id>_<secret>``.

Keys are stored hashed (SHA-256 of the whole key; secrets are 256 random bits, so no salt
or slow hash is needed) under ``atp:{meta}:apikey:<key id>`` with their scopes and, for a
store's register, the locations they may write at. Each process caches a key for
``auth_cache_ttl_s``: a revoked key stops working within that time.
"""

import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

import msgspec

from api.problems import ApiError
from atp import keys
from atp.redis_io import RedisIO
from atp.validate import check_id


class Scope(enum.StrEnum):
    availability_read = "availability:read"
    stock_write = "stock:write"
    reservations_write = "reservations:write"
    admin = "admin"  # every scope


class Principal(msgspec.Struct, frozen=True):
    key_id: str
    scopes: frozenset[Scope]
    locations: frozenset[str] | None  # None: any location
    rate_per_s: float | None = None  # this key's own limit, else the server default

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes and Scope.admin not in self.scopes:
            raise ApiError(403, "forbidden", "Forbidden", f"this key lacks the scope {scope}")

    def require_locations(self, locations: Iterable[str]) -> None:
        """A key bound to stores writes only there; reading elsewhere is allowed."""
        if self.locations is None:
            return
        for location in locations:
            if location not in self.locations:
                raise ApiError(
                    403, "forbidden", "Forbidden", f"this key may not write at {location}"
                )


ANONYMOUS = Principal("anonymous", frozenset({Scope.admin}), None)


def key_record(key_id: str) -> str:
    return f"{keys.PREFIX}:{keys.META_TAG}:apikey:{key_id}"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _unauthorized(detail: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="atp"'},
    )


async def create_key(
    redis: RedisIO,
    scopes: Iterable[Scope],
    locations: Iterable[str] = (),
    name: str = "",
    rate_per_s: float | None = None,
) -> tuple[str, str]:
    """Returns (key id, key). The key is shown once; only its hash is kept."""
    scope_list = sorted({Scope(s) for s in scopes})
    if not scope_list:
        raise ValueError("a key needs at least one scope")
    location_list = sorted({check_id("location", loc) for loc in locations})
    key_id = secrets.token_hex(6)
    key = f"atp_{key_id}_{secrets.token_urlsafe(32)}"
    fields: list[str | int] = ["h", _digest(key), "scopes", ",".join(scope_list)]
    fields += ["locations", ",".join(location_list), "name", name]
    fields += ["created_ms", int(time.time() * 1000)]
    if rate_per_s is not None:
        fields += ["rate", repr(float(rate_per_s))]
    await redis.command("HSET", key_record(key_id), *fields)
    return key_id, key


async def revoke_key(redis: RedisIO, key_or_id: str) -> bool:
    key_id = key_or_id.split("_")[1] if key_or_id.startswith("atp_") else key_or_id
    return bool(await redis.command("DEL", key_record(key_id)))


class Authenticator:
    def __init__(self, redis: RedisIO, cache_ttl_s: float, enabled: bool = True) -> None:
        self._redis = redis
        self._ttl_s = cache_ttl_s
        self._enabled = enabled
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}
        # Verified keys (the key itself, in this process's memory only) skip the hash.
        self._principals: dict[str, tuple[float, Principal]] = {}

    async def _record(self, key_id: str) -> dict[str, str]:
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        flat = await self._redis.command("HGETALL", key_record(key_id))
        record = dict(zip(flat[::2], flat[1::2], strict=True)) if isinstance(flat, list) else flat
        if self._ttl_s > 0:
            if len(self._cache) > 10_000:  # bounded: unknown key ids must not grow it forever
                self._cache.clear()
            self._cache[key_id] = (now + self._ttl_s, record)
        return record

    async def authenticate(self, authorization: str | None) -> Principal:
        if not self._enabled:
            return ANONYMOUS
        if not authorization:
            raise _unauthorized("send an API key as Authorization: Bearer <key>")
        scheme, _, key = authorization.partition(" ")
        parts = key.strip().split("_", 2)
        if scheme.lower() != "bearer" or len(parts) != 3 or parts[0] != "atp" or not parts[1]:
            raise _unauthorized("malformed API key")
        if not parts[1].isalnum() or len(parts[1]) > 32:
            raise _unauthorized("unknown or revoked API key")
        now = time.monotonic()
        known = self._principals.get(key)
        if known is not None and known[0] > now:
            return known[1]
        record = await self._record(parts[1])
        if not record or not hmac.compare_digest(record.get("h", ""), _digest(key.strip())):
            raise _unauthorized("unknown or revoked API key")
        principal = self._principal(parts[1], record)
        if self._ttl_s > 0:
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[key] = (now + self._ttl_s, principal)
        return principal

    @staticmethod
    def _principal(key_id: str, record: dict[str, str]) -> Principal:
        locations = record.get("locations", "")
        return Principal(
            key_id=key_id,
            scopes=frozenset(Scope(s) for s in record["scopes"].split(",") if s),
            locations=frozenset(locations.split(",")) if locations else None,
            rate_per_s=float(record["rate"]) if record.get("rate") else None,
        )
