"""Versioned policies and the surfaces rendered from them (orders/policies.py, the texts'
rules in orders/policy_text.py): save a version, read one (current or by number), list
the names; record what a surface shows, render what it should show, and audit them all.

Policy texts are public: reading them takes ``availability:read``, from any key. Saving a
version, recording a surface and the audit take ``catalog:write``, and policies are
chain-wide: a key bound to stores may read them but never change them (403
``location-not-allowed``). A name or surface outside the vocabulary is 404; a bad version
is 422 naming each flawed field (``terms.window_days``, ``text``) with nothing stored."""

from datetime import datetime
from typing import Annotated, Any

from msgspec import Meta

from api import lanes
from api.auth import Scope, forbidden
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, FieldError
from api.schemas import Request, Response
from orders import policies
from orders.policies import Audit, Policy, Surface, SurfaceCheck
from orders.policy_text import TERMS, TEXT_LENGTH_MAX, Name, Refusal

ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})  # 409: a retry in flight
READ_ERRORS = frozenset({401, 403, 404, 422, 429})
VERSION_MAX = 2**31 - 1  # the column's integer

Text = Annotated[str, Meta(max_length=TEXT_LENGTH_MAX)]


# Each name's terms and their types (orders/policy_text.py), for the OpenAPI document.
TERMS_DOC = "; ".join(
    f"{name}: " + ", ".join(f"{key} ({term.kind})" for key, term in terms.items())
    for name, terms in TERMS.items()
)


class PolicyBody(Request, frozen=True):
    terms: Annotated[dict[str, Any], Meta(description=f"every term of the policy: {TERMS_DOC}")]
    text: Annotated[Text, Meta(description="{term} placeholders are filled when rendered")]


class PolicyOut(Response, frozen=True):
    name: Name
    version: int
    terms: dict[str, Any]
    text: str
    rendered: str  # the text with its placeholders filled: what every surface shows
    created_at: datetime | None
    created_by: str

    @classmethod
    def of(cls, p: Policy) -> "PolicyOut":
        fields = (p.terms, p.text, p.rendered(), p.created_at, p.created_by)
        return cls(Name(p.name), p.version, *fields)


class PolicyName(Response, frozen=True):
    name: Name
    current_version: int | None  # None: no version saved yet


class PolicyList(Response, frozen=True):
    items: list[PolicyName]


class SurfaceBody(Request, frozen=True):
    policy: Name
    published_version: Annotated[int, Meta(ge=1, le=VERSION_MAX)]
    published_text: Text


class Rendering(Response, frozen=True):
    surface: Surface
    policy: Name
    version: int
    text: str  # the current version rendered: what the surface should publish


def _refused(refusal: Refusal) -> ApiError:
    first = refusal.flaws[0]
    errors = [FieldError(f.field, f.message) for f in refusal.flaws]
    detail = f"{first.field}: {first.message}"
    return ApiError(422, "invalid-input", "Invalid input", detail, errors=errors)


def _not_found(name: str, number: int | None = None) -> ApiError:
    which = "no version yet" if number is None else f"no version {number}"
    return ApiError(404, "policy-not-found", "No such policy", f"{name} has {which}")


def _name(ctx: Ctx) -> Name:
    raw = ctx.path("name")
    if raw not in Name.__members__:
        raise ApiError(404, "policy-not-found", "No such policy", f"policies are {', '.join(Name)}")
    return Name(raw)


def _surface(ctx: Ctx) -> Surface:
    raw = ctx.path("surface")
    if raw not in Surface.__members__:
        raise ApiError(
            404, "surface-not-found", "No such surface", f"surfaces are {', '.join(Surface)}"
        )
    return Surface(raw)


def _version(ctx: Ctx) -> int | None:
    raw = ctx.query().get("version")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw[:12]) <= VERSION_MAX:
        raise ApiError(
            422,
            "invalid-input",
            "Invalid input",
            f"version: must be a whole number between 1 and {VERSION_MAX}",
            errors=[FieldError("version", f"must be between 1 and {VERSION_MAX}")],
        )
    return int(raw)


async def chain_wide(ctx: Any, body: Any) -> None:
    """Policies hold at every store: a key bound to stores may not change them."""
    if ctx.principal.locations is not None:
        raise forbidden(
            "location-not-allowed",
            "policies are chain-wide and this key is bound to stores: "
            "a key for every location changes them",
        )


async def save(ctx: Ctx, body: PolicyBody) -> Reply:
    name = _name(ctx)
    try:
        async with ctx.services.pool.acquire() as conn:
            created, saved = await policies.save(
                conn, name, body.terms, body.text, ctx.principal.key_id
            )
    except Refusal as refusal:
        raise _refused(refusal) from None
    return (201 if created else 200), PolicyOut.of(saved)


async def get(ctx: Ctx, _: None) -> Reply:
    name, number = _name(ctx), _version(ctx)
    async with ctx.services.pool.acquire() as conn:
        found = await policies.version(conn, name, number)
    if found is None:
        raise _not_found(name, number)
    return 200, PolicyOut.of(found)


async def list_(ctx: Ctx, _: None) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        current = await policies.current_versions(conn)
    return 200, PolicyList([PolicyName(n, current.get(n)) for n in Name])


async def publish(ctx: Ctx, body: SurfaceBody) -> Reply:
    surface = _surface(ctx)
    try:
        async with ctx.services.pool.acquire() as conn:
            checked = await policies.publish(
                conn,
                surface,
                body.policy,
                body.published_version,
                body.published_text,
                ctx.principal.key_id,
            )
    except Refusal as refusal:
        raise _refused(refusal) from None
    return 200, checked


async def render(ctx: Ctx, _: None) -> Reply:
    surface = _surface(ctx)
    async with ctx.services.pool.acquire() as conn:
        name = await policies.shown(conn, surface)
        found = await policies.version(conn, name)
    if found is None:
        raise _not_found(name)
    return 200, Rendering(surface, name, found.version, found.rendered())


async def audit(ctx: Ctx, _: None) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        return 200, await policies.audit(conn)


_NAME = Param(
    "name", "path", {"type": "string", "enum": [n.value for n in Name]}, "the policy", True
)
_SURFACE = Param(
    "surface", "path", {"type": "string", "enum": [s.value for s in Surface]}, "where", True
)
_VERSION = Param(
    "version",
    "query",
    {"type": "integer", "minimum": 1, "maximum": VERSION_MAX},
    "a version (default: the one in force)",
)
TAG = "policies"

# The fixed paths (audit, surfaces) before /v1/policies/{name}: routes match in order.
OPS = [
    Op(
        "GET",
        "/v1/policies/audit",
        "auditPolicySurfaces",
        "Every surface's published text against the current version: the defects count",
        audit,
        Scope.catalog_write,
        {200: Audit},
        frozenset({401, 403, 429}),
        tag=TAG,
        lane=lanes.anywhere,
    ),
    Op(
        "PUT",
        "/v1/policies/surfaces/{surface}",
        "publishPolicySurface",
        "Record what a surface (site snippet, email, receipt, macro) now shows",
        publish,
        Scope.catalog_write,
        {200: SurfaceCheck},
        ERRORS,
        body=SurfaceBody,
        params=(_SURFACE,),
        idempotent=True,
        tag=TAG,
        lane=chain_wide,
    ),
    Op(
        "GET",
        "/v1/policies/surfaces/{surface}/render",
        "renderPolicySurface",
        "What a surface should show: the current version of its policy, rendered",
        render,
        Scope.availability_read,
        {200: Rendering},
        READ_ERRORS,
        params=(_SURFACE,),
        tag=TAG,
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/policies",
        "listPolicies",
        "The policies and the version of each in force",
        list_,
        Scope.availability_read,
        {200: PolicyList},
        frozenset({401, 403, 429}),
        tag=TAG,
        lane=lanes.anywhere,
    ),
    Op(
        "PUT",
        "/v1/policies/{name}",
        "savePolicy",
        "Save a new version of a policy (the current one unchanged: answers it, 200)",
        save,
        Scope.catalog_write,
        {201: PolicyOut, 200: PolicyOut},
        ERRORS,
        body=PolicyBody,
        params=(_NAME,),
        idempotent=True,
        tag=TAG,
        lane=chain_wide,
    ),
    Op(
        "GET",
        "/v1/policies/{name}",
        "getPolicy",
        "A policy's version in force, or ?version=n, with its text rendered",
        get,
        Scope.availability_read,
        {200: PolicyOut},
        READ_ERRORS,
        params=(_NAME, _VERSION),
        tag=TAG,
        lane=lanes.anywhere,
    ),
]
