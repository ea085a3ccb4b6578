"""CSRF protection for every form of the page.

A signed-in form carries its session's token (a hidden field) and a POST is refused
(403) unless it matches. The sign-in form, before any session, uses a double submit: the
same random value in a cookie of its own (HttpOnly, SameSite=Strict) and in the form,
which another site can neither read nor set. The cookies' SameSite=Strict is a second
fence, not the only one.
"""

import hmac
import secrets
from typing import Final

from starlette.datastructures import FormData
from starlette.requests import Request

FIELD: Final = "csrf_token"
SIGN_IN_COOKIE: Final = "atp_ui_signin"
TOKEN_BYTES: Final = 32
FORM_BYTES_MAX: Final = 16 * 1024  # the page's forms are a few short fields
FORM_FIELDS_MAX: Final = 32


class CsrfRefused(Exception):
    """The form's token is missing or is not this session's."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def matches(given: object, expected: str) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given, expected)


async def checked_form(request: Request, expected: str | None) -> FormData:
    """The POSTed form, once its token matches ``expected`` (None: refused)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > FORM_BYTES_MAX):
        raise CsrfRefused("form too large")
    form = await request.form(max_files=0, max_fields=FORM_FIELDS_MAX)
    if expected is None or not matches(form.get(FIELD), expected):
        raise CsrfRefused("missing or wrong CSRF token")
    return form
