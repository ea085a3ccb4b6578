"""API keys, for operators (scope admin): create (the key shown once), list, revoke."""

from typing import Annotated, Any

from msgspec import Meta

from api import keystore, lanes, params
from api.auth import Scope
from api.keystore import KEY_NAME_LENGTH_MAX, KEY_RATE_PER_S_MAX, KeyInfo
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError
from api.schemas import LocationId, Request, Response
from atp.model import Channel

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429})


class KeyBody(Request, frozen=True):
    scopes: Annotated[list[Scope], Meta(min_length=1)]
    name: Annotated[str, Meta(max_length=KEY_NAME_LENGTH_MAX)] = ""
    locations: list[LocationId] | None = None  # the stores a register's key acts at; none: any
    # Default: store for a key bound to locations, online otherwise, both for admin.
    channels: list[Channel] | None = None
    rate_per_s: Annotated[float, Meta(gt=0, le=KEY_RATE_PER_S_MAX)] | None = None


class CreatedKey(Response, frozen=True):
    key: Annotated[str, Meta(description="the key itself: shown this once, only its hash kept")]
    info: KeyInfo


class KeyList(Response, frozen=True):
    items: list[KeyInfo]


class Revoked(Response, frozen=True):
    key_id: str
    revoked: bool


async def create(ctx: Ctx, body: KeyBody) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        key_id, key = await keystore.create_key(
            conn,
            body.scopes,
            body.locations or (),
            body.name,
            body.rate_per_s,
            body.channels,
            created_by=ctx.principal.key_id,
        )
        info = await keystore.get_key(conn, key_id)
    assert info is not None
    return 201, CreatedKey(key, info)


async def list_(ctx: Ctx, _: None) -> Reply:
    revoked = params.boolean(ctx.query(), "include_revoked")
    async with ctx.services.pool.acquire() as conn:
        return 200, KeyList(await keystore.list_keys(conn, revoked))


async def revoke(ctx: Ctx, _: None) -> Reply:
    key_id = ctx.path("key_id")
    async with ctx.services.pool.acquire() as conn:
        if await keystore.revoke_key(conn, key_id):
            return 200, Revoked(key_id, True)
        if await keystore.get_key(conn, key_id) is None:
            raise ApiError(404, "key-not-found", "No such key", f"no key has the id {key_id}")
    return 200, Revoked(key_id, False)  # already revoked: revoking is idempotent


_INCLUDE: dict[str, Any] = {"type": "boolean", "default": False}

OPS = [
    Op(
        "POST",
        "/v1/keys",
        "createKey",
        "Create an API key (the key is in this answer only)",
        create,
        Scope.admin,
        {201: CreatedKey},
        ERRORS,
        body=KeyBody,
        tag="keys",
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/keys",
        "listKeys",
        "API keys with their scopes, lanes and last use (never the secret)",
        list_,
        Scope.admin,
        {200: KeyList},
        frozenset({401, 403, 422, 429}),
        params=(Param("include_revoked", "query", _INCLUDE, "list revoked keys too"),),
        tag="keys",
        lane=lanes.anywhere,
    ),
    Op(
        "DELETE",
        "/v1/keys/{key_id}",
        "revokeKey",
        "Revoke an API key (in every process within the key cache's few seconds)",
        revoke,
        Scope.admin,
        {200: Revoked},
        frozenset({401, 403, 404, 422, 429}),
        params=(params.path_id("key_id", "the key's id (the part after atp_)"),),
        tag="keys",
        lane=lanes.anywhere,
    ),
]
