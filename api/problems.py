"""RFC 9457 problem details: every error the API returns has this shape.

Handlers and helpers raise ``ApiError``; the application turns it (and Starlette's own
HTTP errors) into an ``application/problem+json`` body naming the request id as
``instance``, so a caller's report can be matched to our logs.
"""

import math
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

from atp.validate import ID_PATTERN, ID_RULE
from orders.errors import Refusal

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
    lines: list[Any] | None = None  # an order's refused lines (short, not returnable, ...)
    policy: Any | None = None  # the policy {name, version} a refusal was judged by


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


def refused(exc: Refusal) -> ApiError:
    """The order service's refusal (orders/errors.py) as a problem; the field it names, if
    any, in ``errors``."""
    extensions = dict(exc.extensions)
    headers = extensions.pop("headers", None)
    errors = None if exc.field is None else [FieldError(exc.field, exc.detail)]
    return ApiError(
        exc.status, exc.slug, exc.title, exc.detail, errors=errors, headers=headers, **extensions
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


def _field_error(error: msgspec.ValidationError, root: str = "") -> FieldError:
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
    return FieldError(field, message)


def invalid_fields(errors: list[FieldError]) -> ApiError:
    """One 422 problem listing every failing field; the detail names the first."""
    first, more = errors[0], len(errors) - 1
    detail = f"{first.field}: {first.message}"
    if more:
        detail += f" (and {more} more in errors)"
    return ApiError(422, "invalid-input", "Invalid input", detail, errors=errors)


# -- every failing field of a body -------------------------------------------------------
# msgspec stops at a body's first error. Only once a decode has failed, the body is decoded
# again as plain JSON and walked against the Struct's fields: each field is converted on
# its own (msgspec.convert, the decoder's own rules and wording), descending into nested
# Structs, lists and tagged unions so each failing leaf is named with its path.

ERRORS_MAX = 100  # a problem lists at most this many fields (the first ones)
_OUT_OF_RANGE = object()  # a JSON number beyond a double, as the plain decode gives it


def _finite(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _OUT_OF_RANGE


_plain = msgspec.json.Decoder(float_hook=_finite)


def _name(path: str) -> str:
    return path.lstrip(".") or "body"


def field_errors(value: Any, kind: Any, path: str = "") -> list[FieldError]:
    """Each field of ``value`` (decoded JSON) that does not convert to ``kind``, in the
    body's order (missing fields after the object's others), named as msgspec names them."""
    out: list[FieldError] = []
    _walk(value, kind, path, out)
    return out[:ERRORS_MAX]


def _walk(value: Any, kind: Any, path: str, out: list[FieldError]) -> None:
    if len(out) >= ERRORS_MAX:
        return
    if value is _OUT_OF_RANGE:  # the typed decoder refuses it whatever the type
        out.append(FieldError(_name(path), "Number out of range"))
        return
    try:
        msgspec.convert(value, kind)
        return
    except msgspec.ValidationError as exc:
        error = exc
    before = len(out)
    _descend(value, kind, path, out)
    if len(out) == before:  # nothing inside failed: the value itself does (type, bound)
        out.append(_field_error(error, path))


def _descend(value: Any, kind: Any, path: str, out: list[FieldError]) -> None:
    metas: tuple[Any, ...] = ()
    if get_origin(kind) is Annotated:
        kind, *rest = get_args(kind)
        metas = tuple(rest)
    origin = get_origin(kind)
    if origin is Union or origin is types.UnionType:
        chosen = _option(value, [a for a in get_args(kind) if a is not type(None)])
        if chosen is not None:
            _walk(value, chosen, path, out)
    elif origin is list and isinstance(value, list):
        if metas:  # the list's own bounds
            bounded: Any = Annotated[(list[Any], *metas)]
            try:
                msgspec.convert(value, bounded)
            except msgspec.ValidationError as exc:
                out.append(_field_error(exc, path))
        item = (get_args(kind) or (Any,))[0]
        for i, each in enumerate(value):
            _walk(each, item, f"{path}[{i}]", out)
    elif isinstance(kind, type) and issubclass(kind, msgspec.Struct) and isinstance(value, dict):
        _struct(value, kind, path, out)


def _option(value: Any, options: list[Any]) -> Any:
    """The union member a value is meant as: the only one, or the Struct its tag names."""
    if len(options) == 1:
        return options[0]
    if not isinstance(value, dict):
        return None
    for option in options:
        config = getattr(option, "__struct_config__", None)
        if config is not None and config.tag_field and value.get(config.tag_field) == config.tag:
            return option
    return None  # no tag, or an unknown one: the union's own error names the tag


def _struct(
    value: dict[str, Any], kind: type[msgspec.Struct], path: str, out: list[FieldError]
) -> None:
    config = kind.__struct_config__
    fields = {f.encode_name: f for f in msgspec.structs.fields(kind)}
    for name, each in value.items():
        f = fields.get(name)
        if f is not None:
            _walk(each, f.type, f"{path}.{name}", out)
        elif name == config.tag_field:
            if each != config.tag:
                out.append(FieldError(_name(f"{path}.{name}"), f"Invalid value {each!r}"))
        elif config.forbid_unknown_fields:
            out.append(
                FieldError(_name(f"{path}.{name}"), f"Object contains unknown field `{name}`")
            )
    for name, f in fields.items():
        if f.required and name not in value:
            out.append(
                FieldError(_name(f"{path}.{name}"), f"Object missing required field `{name}`")
            )


def every_invalid(raw: bytes, kind: Any, first: msgspec.ValidationError) -> ApiError:
    """The 422 for a body whose decode failed with ``first``: every failing field, msgspec's
    own first error first. A body that is not JSON at all is 400, as it would be without
    the bad field msgspec stopped at."""
    try:
        value = _plain.decode(raw)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "malformed-json", "Malformed JSON", f"body: {exc}") from None
    lead = _field_error(first)
    errors = [lead, *(e for e in field_errors(value, kind) if e.field != lead.field)]
    return invalid_fields(errors[:ERRORS_MAX])


def http_problem(status: int, detail: str) -> ApiError:
    """Plain HTTP errors (unknown route, wrong method) use type about:blank."""
    titles = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}
    return ApiError(status, "", titles.get(status, "HTTP error"), detail)
