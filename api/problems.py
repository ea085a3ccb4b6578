"""RFC 9457 problem details: every error the API returns has this shape.

Handlers and helpers raise ``ApiError``; the application turns it (and Starlette's own
HTTP errors) into an ``application/problem+json`` body naming the request id as
``instance``, so a caller's report can be matched to our logs.
"""

import re
from typing import Any

import msgspec

from atp.validate import ID_PATTERN, ID_RULE

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"  # relative URI references, documented in docs/api.md


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    # Extensions: set on the problems that have them.
    state: str | None = None  # the reservation's current state, on illegal transitions
    shortfalls: list[Any] | None = None
    position: Any | None = None  # the position as it stands, on refused stock writes
    retry_after_s: int | None = None
    plan: Any | None = None  # the routing plan, when an allocation is refused


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions

    def problem(self, instance: str | None) -> Problem:
        kind = "about:blank" if self.slug == "" else PROBLEM_BASE + self.slug
        return Problem(
            type=kind,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
            **self.extensions,
        )


def invalid(field: str, message: str, status: int = 422) -> ApiError:
    return ApiError(
        status,
        "invalid-input",
        "Invalid input",
        f"{field}: {message}",
        errors=[FieldError(field, message)],
    )


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(r"(?:missing required field|unknown field) `(?P<name>[^`]+)`")


_ID_REGEX = "matching regex " + repr(f"^{ID_PATTERN.pattern}$")  # as msgspec quotes it


def from_validation_error(error: msgspec.ValidationError, root: str = "") -> ApiError:
    """msgspec says ``Expected `int`, got `str` - at `$.lines[0].qty```; name that field."""
    text = str(error)
    match = _AT.search(text)
    path = match.group("path") if match else ""
    message = text[: match.start()] if match else text
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named.group('name')}"
    field = (root + path).lstrip(".") or "body"
    if _ID_REGEX in message:  # the id rule in the engine's words, not as a regex
        message = ID_RULE
    return invalid(field, message)


def http_problem(status: int, detail: str) -> ApiError:
    """Plain HTTP errors (unknown route, wrong method) use type about:blank."""
    titles = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}
    return ApiError(status, "", titles.get(status, "HTTP error"), detail)
