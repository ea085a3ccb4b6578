"""API keys: ``Authorization: Bearer atp_<key id>_<secret>``, and the lanes a key keeps to.

Keys live in PostgreSQL (api/keystore.py), hashed: SHA-256 of the whole key (secrets are 256
random bits, so no salt or slow hash is needed). Each process caches a key it has verified
for ``auth_cache_ttl_s``: a revoked key stops working within that time, and a Redis loss
costs no key at all.

A key is confined by one check, ``Principal.confine``, which the operation table runs for
every route (api/lanes.py says what each route claims): its scopes, the channels it may
hold and sell on, and for a store's register the locations it may act at.
"""

import enum
import hashlib
import hmac
import time
from collections.abc import Iterable

import asyncpg
import msgspec

from api.problems import ApiError
from atp.model import Channel

KEY_ID_LENGTH_MAX = 32
AUTH_CACHE_ENTRIES_MAX = 10_000  # unknown key ids must not grow a process's cache forever


class Scope(enum.StrEnum):
    availability_read = "availability:read"
    stock_write = "stock:write"
    reservations_write = "reservations:write"
    webhooks_write = "webhooks:write"  # webhook endpoints, their deliveries and retries
    alerts_write = "alerts:write"  # back-in-stock subscriptions (a storefront's backend)
    orders_read = "orders:read"  # orders, pickup queues, returns, transfers (customer data)
    orders_write = "orders:write"  # create and work orders, shipments, returns
    catalog_write = "catalog:write"  # policies (versioned texts and terms) and prices
    support_read = "support:read"  # customers, the support lookup (customer data)
    support_write = "support:write"  # support tickets and replies, merging customers
    admin = "admin"  # every scope, every channel, every location; manages keys


ALL_CHANNELS = frozenset(Channel)


def forbidden(rule: str, detail: str) -> ApiError:
    """A 403 naming the rule that refused: its slug is the problem type."""
    return ApiError(403, rule, "Forbidden", detail)


class Principal(msgspec.Struct, frozen=True):
    key_id: str
    scopes: frozenset[Scope]
    locations: frozenset[str] | None  # None: any location
    rate_per_s: float | None = None  # this key's own limit, else the server default
    channels: frozenset[Channel] = ALL_CHANNELS

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes and Scope.admin not in self.scopes:
            raise forbidden("scope-missing", f"this key lacks the scope {scope}")

    def confine(self, locations: Iterable[str] = (), channel: Channel | None = None) -> None:
        """The one lane check: a key acts only on its channels and at its locations."""
        if channel is not None and channel not in self.channels:
            allowed = ", ".join(sorted(self.channels)) or "none"
            raise forbidden(
                "channel-not-allowed",
                f"this key may use the channels {allowed}, not {channel}",
            )
        if self.locations is None:
            return
        for location in locations:
            if location not in self.locations:
                bound = ", ".join(sorted(self.locations))
                raise forbidden(
                    "location-not-allowed",
                    f"this key is bound to {bound} and may not act at {location}",
                )


ANONYMOUS = Principal("anonymous", frozenset({Scope.admin}), None)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key_or_id: str) -> str:
    """The id of a key given whole (atp_<id>_<secret>) or as its id."""
    parts = key_or_id.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "atp" else key_or_id


def _unauthorized(detail: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="atp"'},
    )


_RECORD = """
SELECT digest, scopes, locations, channels, rate_per_s FROM api_keys
WHERE key_id = $1 AND revoked_at IS NULL
"""
_TOUCH = """
UPDATE api_keys SET last_used_at = now()
WHERE key_id = ANY($1::text[]) AND (last_used_at IS NULL OR last_used_at < now() - '10 s'::interval)
"""


class Authenticator:
    def __init__(self, pool: asyncpg.Pool, cache_ttl_s: float, enabled: bool = True) -> None:
        self._pool = pool
        self._ttl_s = cache_ttl_s
        self._enabled = enabled
        # Verified keys (the key itself, in this process's memory only) skip the lookup.
        self._principals: dict[str, tuple[float, Principal]] = {}
        self._used: set[str] = set()  # key ids seen since the last touch()

    async def authenticate(self, authorization: str | None) -> Principal:
        if not self._enabled:
            return ANONYMOUS
        if not authorization:
            raise _unauthorized("send an API key as Authorization: Bearer <key>")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        parts = key.split("_", 2)
        if scheme.lower() != "bearer" or len(parts) != 3 or parts[0] != "atp" or not parts[1]:
            raise _unauthorized("malformed API key: expected atp_<key id>_<secret>")
        if not parts[1].isalnum() or len(parts[1]) > KEY_ID_LENGTH_MAX:
            raise _unauthorized("unknown or revoked API key")
        now = time.monotonic()
        known = self._principals.get(key)
        if known is not None and known[0] > now:
            self._used.add(known[1].key_id)
            return known[1]
        record = await self._pool.fetchrow(_RECORD, parts[1])
        if record is None or not hmac.compare_digest(record["digest"], digest(key)):
            raise _unauthorized("unknown or revoked API key")
        principal = principal_of(parts[1], record)
        if self._ttl_s > 0:
            if len(self._principals) > AUTH_CACHE_ENTRIES_MAX:
                self._principals.clear()
            self._principals[key] = (now + self._ttl_s, principal)
        self._used.add(principal.key_id)
        return principal

    async def touch(self) -> None:
        """Records when each key was last used (batched: one UPDATE per call)."""
        used, self._used = sorted(self._used), set()
        if used:
            await self._pool.execute(_TOUCH, used)


def principal_of(key_id: str, record: asyncpg.Record) -> Principal:
    locations = record["locations"]
    return Principal(
        key_id=key_id,
        scopes=frozenset(Scope(s) for s in record["scopes"]),
        locations=None if locations is None else frozenset(locations),
        rate_per_s=record["rate_per_s"],
        channels=frozenset(Channel(c) for c in record["channels"]),
    )
