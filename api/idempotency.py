"""``Idempotency-Key``: a retried write returns the first response.

Records live in PostgreSQL (``idempotency_records``, scoped to the calling API key), so a
Redis loss forgets no answer. A request first claims its record (pending, owned by this
process's instance); a duplicate arriving while the owner still runs gets 409; the response
is stored, after the write is durable and before it is sent. If the owning process died
(its instance lock is gone, api/instance.py) a retry takes the claim over at once and runs
again, and the ledger's own operation ids (derived from the same key, see ``op_id``) keep
the effect single.
"""

import asyncio
import hashlib
from typing import Final

import asyncpg
import msgspec

from api import instance
from api.problems import ApiError, invalid
from api.settings import (
    IDEMPOTENCY_KEY_LENGTH_MAX,
    IDEMPOTENCY_PENDING_S,
    IDEMPOTENCY_RETENTION_S,
)
from durability.db import Conn

HEADER = "idempotency-key"
CLAIM_ATTEMPTS_MAX: Final = 3  # a record may finish or expire between two statements


class Stored(msgspec.Struct, frozen=True):
    digest: str
    pending: bool
    status: int = 0
    body: bytes = b""
    content_type: str = ""


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


def _in_flight() -> ApiError:
    return ApiError(
        409,
        "request-in-flight",
        "Request in flight",
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


# A new claim, or an expired record claimed afresh.
_CLAIM = f"""
INSERT INTO idempotency_records AS r (key_id, key_hash, digest, pending, owner, expires_at)
VALUES ($1, $2, $3, true, $4, now() + '{IDEMPOTENCY_RETENTION_S} s'::interval)
ON CONFLICT (key_id, key_hash) DO UPDATE SET
    digest = EXCLUDED.digest, pending = true, owner = EXCLUDED.owner, claimed_at = now(),
    status = 0,
    body = ''::bytea, content_type = '', expires_at = EXCLUDED.expires_at
WHERE r.expires_at < now()
RETURNING true
"""
_READ = f"""
SELECT digest, pending, owner, status, body, content_type,
    claimed_at < now() - '{IDEMPOTENCY_PENDING_S} s'::interval AS stale
FROM idempotency_records
WHERE key_id = $1 AND key_hash = $2
"""
_TAKE_OVER = """
UPDATE idempotency_records SET owner = $4, claimed_at = now()
WHERE key_id = $1 AND key_hash = $2 AND pending AND owner = $3
RETURNING true
"""


Answer = tuple[str, str, str, int, bytes, str]  # key id, key hash, digest, status, body, type
_FINISH = """
UPDATE idempotency_records r SET pending = false, status = a.status, body = a.body,
    content_type = a.content_type
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bytea[], $6::text[])
    AS a(key_id, key_hash, digest, status, body, content_type)
WHERE r.key_id = a.key_id AND r.key_hash = a.key_hash AND r.digest = a.digest
"""


class AnswerBatch:
    """Answers stored in the same event-loop turn go to PostgreSQL as one UPDATE: the
    group commit releases many writes at once, and each used to cost a round trip of its
    own. Every caller waits for the statement that carries its answer."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._pending: list[tuple[Answer, asyncio.Future[None]]] = []
        self._writes: set[asyncio.Task[None]] = set()  # keeps running writes referenced

    async def store(self, answer: Answer) -> None:
        future = asyncio.get_running_loop().create_future()
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append((answer, future))
        await future

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._write(batch))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[tuple[Answer, asyncio.Future[None]]]) -> None:
        columns = [list(column) for column in zip(*(answer for answer, _ in batch), strict=True)]
        try:
            await self._pool.execute(_FINISH, *columns)
        except BaseException as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)


class Idempotency:
    def __init__(self, pool: asyncpg.Pool, owner: int) -> None:
        self._pool = pool
        self._owner = owner  # this process's instance id
        self._running: set[str] = set()  # hashes of the claims this process is running
        self._answers = AnswerBatch(pool)

    async def begin(self, key_id: str, key: str, digest: str) -> Stored | None:
        """None: this request owns the key and must run. Else the first response."""
        hashed = _hash(key_id, key)
        async with self._pool.acquire() as conn:
            for _ in range(CLAIM_ATTEMPTS_MAX):
                if await conn.fetchval(_CLAIM, key_id, hashed, digest, self._owner):
                    self._running.add(hashed)
                    return None
                row = await conn.fetchrow(_READ, key_id, hashed)
                if row is None:
                    continue
                if row["digest"] != digest:
                    raise ApiError(
                        422,
                        "idempotency-key-reused",
                        "Idempotency key reused",
                        "this Idempotency-Key was first used with another request body",
                    )
                if not row["pending"]:
                    return Stored(
                        digest, False, row["status"], bytes(row["body"]), row["content_type"]
                    )
                if not await self._abandoned(conn, hashed, int(row["owner"]), row["stale"]):
                    raise _in_flight()
                # Whoever claimed it will never answer: this request runs it.
                if await conn.fetchval(_TAKE_OVER, key_id, hashed, row["owner"], self._owner):
                    self._running.add(hashed)
                    return None
        raise _in_flight()

    async def _abandoned(self, conn: Conn, hashed: str, owner: int, stale: bool) -> bool:
        """A pending claim nobody is running: its process died, it is older than any
        request can wait, or it is this process's own and not running here (its answer
        could not be stored)."""
        if stale:
            return True
        if owner == self._owner:
            return hashed not in self._running
        return not await instance.alive(conn, owner)

    def done(self, key_id: str, key: str) -> None:
        """This process no longer runs the request (answered, or failed)."""
        self._running.discard(_hash(key_id, key))

    async def finish(
        self, key_id: str, key: str, digest: str, status: int, body: bytes, content_type: str
    ) -> None:
        """Stores the answer. The answers of the writes one durability flush released
        resume together and go as one statement (AnswerBatch)."""
        answer = (key_id, _hash(key_id, key), digest, status, body, content_type)
        await self._answers.store(answer)

    async def abandon(self, key_id: str, key: str) -> None:
        """The request failed without an answer (5xx): a retry may run it again."""
        await self._pool.execute(
            "DELETE FROM idempotency_records WHERE key_id = $1 AND key_hash = $2 AND pending"
            " AND owner = $3",
            key_id,
            _hash(key_id, key),
            self._owner,
        )

    async def expire(self) -> int:
        """Deletes records past their retention; returns how many."""
        done = await self._pool.execute("DELETE FROM idempotency_records WHERE expires_at < now()")
        return int(done.split()[-1])
