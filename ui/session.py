"""Sign-in sessions of the page: an API key, checked once by the API's own authenticator,
becomes a random session token in an HttpOnly, SameSite=Strict cookie.

Server-side and revocable: PostgreSQL holds the token's SHA-256 (never the token, never
the key), the key it acts as, and the CSRF token its forms carry (ui/csrf.py). Every
request reads the session and its key together, so sign-out, expiry or the key's
revocation ends it at once; the principal is the API's own (api/auth.principal_of), so a
page is confined by the very scopes and locations the key has on /v1.
"""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Principal, principal_of

COOKIE: Final = "atp_ui_session"
SESSION_TTL_S: Final = 8 * 3600  # one shift; sign in again after it
TOKEN_BYTES: Final = 32  # 256 random bits, as API keys' secrets: a plain SHA-256 suffices
COOKIE_PATH: Final = "/ui"


@dataclass(frozen=True)
class Session:
    digest: str
    principal: Principal
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_OPEN = """
INSERT INTO ui_sessions (token_digest, key_id, csrf_token, expires_at)
VALUES ($1, $2, $3, now() + make_interval(secs => $4))
"""
_FIND = """
SELECT s.csrf_token, k.key_id, k.scopes, k.locations, k.channels, k.rate_per_s
FROM ui_sessions s JOIN api_keys k ON k.key_id = s.key_id
WHERE s.token_digest = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
  AND k.revoked_at IS NULL
"""
_END = "UPDATE ui_sessions SET revoked_at = now() WHERE token_digest = $1 AND revoked_at IS NULL"
_SWEEP = "DELETE FROM ui_sessions WHERE expires_at < now() - make_interval(secs => $1)"


async def open_session(pool: asyncpg.Pool, principal: Principal) -> str:
    """A new session for a key the authenticator accepted; the token goes in the cookie."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await pool.execute(
        _OPEN, _digest(token), principal.key_id, secrets.token_urlsafe(TOKEN_BYTES), SESSION_TTL_S
    )
    # Expired rows of everyone go with each sign-in: bounded by sign-ins, no background task.
    await pool.execute(_SWEEP, SESSION_TTL_S)
    return token


async def find(pool: asyncpg.Pool, request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 2 * TOKEN_BYTES:
        return None
    digest = _digest(token)
    row = await pool.fetchrow(_FIND, digest)
    if row is None:
        return None
    return Session(digest, principal_of(row["key_id"], row), row["csrf_token"])


async def end(pool: asyncpg.Pool, session: Session) -> None:
    await pool.execute(_END, session.digest)


def set_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_TTL_S,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def clear_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure
    )
