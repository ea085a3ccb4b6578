"""``Idempotency-Key``: a retried write returns the first response.

Records live at ``atp:idem:<key id>:<hash of the Idempotency-Key>`` (scoped to the calling
API key, one Redis key each, no hash tag needed). A request first claims the record with
SET NX (pending, short expiry); a duplicate arriving while it is pending gets 409; the
response is stored when it is known. A request that dies leaves a pending claim that
frees itself after IDEMPOTENCY_PENDING_S; the retry then runs again, and the ledger's own
operation ids (derived from the same key, see ``op_id``) keep the effect single.
"""

import hashlib

import msgspec

from api.problems import ApiError, invalid
from api.settings import (
    IDEMPOTENCY_KEY_LENGTH_MAX,
    IDEMPOTENCY_PENDING_S,
    IDEMPOTENCY_RETENTION_S,
)
from atp.redis_io import RedisIO

HEADER = "idempotency-key"


class Stored(msgspec.Struct, frozen=True):
    digest: str
    pending: bool
    status: int = 0
    body: str = ""
    content_type: str = ""


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Stored).decode


def check_key(value: str) -> str:
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_LENGTH_MAX or not value.isprintable():
        raise invalid(
            "header.Idempotency-Key",
            f"must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} printable characters",
        )
    return value


def _hash(key_id: str, key: str) -> str:
    return hashlib.sha256(f"{key_id}\n{key}".encode()).hexdigest()


def op_id(key_id: str, key: str) -> str:
    """The ledger operation id for this caller's key: a valid engine id, stable per key."""
    return "idem-" + _hash(key_id, key)[:40]


def request_digest(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class Idempotency:
    def __init__(self, redis: RedisIO) -> None:
        self._redis = redis

    @staticmethod
    def _record(key_id: str, key: str) -> str:
        return f"atp:idem:{key_id}:{_hash(key_id, key)[:32]}"

    async def begin(self, key_id: str, key: str, digest: str) -> Stored | None:
        """None: this request owns the key and must run. Else the first response."""
        record = self._record(key_id, key)
        claim = _encode(Stored(digest, pending=True)).decode()
        for _ in range(2):  # the record may expire between SET NX and GET: try once more
            if await self._redis.command("SET", record, claim, "NX", "EX", IDEMPOTENCY_PENDING_S):
                return None
            raw = await self._redis.command("GET", record)
            if raw is None:
                continue
            stored = _decode(raw)
            if stored.digest != digest:
                raise ApiError(
                    422,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    "this Idempotency-Key was first used with another request body",
                )
            if stored.pending:
                raise ApiError(
                    409,
                    "request-in-flight",
                    "Request in flight",
                    "a request with this Idempotency-Key is still being processed; retry later",
                    headers={"Retry-After": "1"},
                )
            return stored
        raise ApiError(409, "request-in-flight", "Request in flight", "retry later")

    async def finish(
        self, key_id: str, key: str, digest: str, status: int, body: bytes, content_type: str
    ) -> None:
        stored = Stored(digest, False, status, body.decode(), content_type)
        await self._redis.command(
            "SET",
            self._record(key_id, key),
            _encode(stored).decode(),
            "EX",
            IDEMPOTENCY_RETENTION_S,
        )

    async def abandon(self, key_id: str, key: str) -> None:
        """The request failed without an answer (5xx): a retry may run it again."""
        await self._redis.command("DEL", self._record(key_id, key))
