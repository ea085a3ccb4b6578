"""One table of operations: each route's method, path, scope, lane, body and responses.

The table registers the routes and writes the OpenAPI document, so the two cannot drift.
``endpoint`` wraps a handler with the steps every route shares, in this order:
authenticate, authorise (scope), rate-limit, read and decode the body, confine the key to
its lanes (api/lanes.py), idempotency, handler, **durability**, encode. Handlers stay thin:
they call one engine function and shape its answer.

The durability step is the one rule for acknowledged writes: an operation that writes
(every method but GET, unless the table says ``writes=False``) is answered, success or
refusal, only once every ledger event appended before its handler returned is in
PostgreSQL (durability/group_commit.py's group commit), and is refused with 503 while the
ledger is being rebuilt. tests/api/test_every_write_durable.py walks the OpenAPI
document's write operations to prove it.
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from api import codec, idempotency, metrics
from api.auth import Principal, Scope
from api.lanes import Lane
from api.problems import ApiError, invalid, refused
from api.query import Query
from api.wiring import Services
from atp import actor
from atp.model import InvalidInput, LedgerUnavailable
from atp.validate import check_id
from durability.group_commit import touched_partitions
from orders.errors import Refusal

log = logging.getLogger(__name__)

REQUEST_ID = "atp.request_id"  # ASGI scope keys set by the middleware and read here
ROUTE = "atp.route"
KEY_ID = "atp.key_id"  # the calling key's id, for the access log
PUBLIC = Principal("public", frozenset(), None)  # health checks: no key, no scope


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" | "query"
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    repeated: bool = False


@dataclass
class Ctx:
    request: Request
    services: Services
    principal: Principal
    idempotency_key: str | None = None
    # Partitions this request's write appended to (None: all); narrows the durability wait.
    partitions: list[int] | None = None

    def wrote(self, result: object) -> None:
        """Notes the partitions an engine write's result names (for the durability wait)."""
        self.partitions = touched_partitions(result)

    def query(self) -> Query:
        return Query(self.request.scope["query_string"])

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    def op_id(self) -> str | None:
        """The ledger operation id for this request's Idempotency-Key, if it has one."""
        if self.idempotency_key is None:
            return None
        return idempotency.op_id(self.principal.key_id, self.idempotency_key)


Reply = tuple[int, Any]  # status, response Struct
Handler = Callable[[Ctx, Any], Awaitable[Reply]]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    name: str  # operationId
    summary: str
    handler: Handler
    scope: Scope | None
    ok: dict[int, Any]  # status -> response type
    errors: frozenset[int] = frozenset()
    body: Any = None  # request Struct type
    body_optional: bool = False
    params: tuple[Param, ...] = ()
    idempotent: bool = False  # accepts Idempotency-Key
    tag: str = ""
    description: str = field(default="")
    # Which of a key's lanes (locations, channel) this route claims; required of every
    # route, so a new one cannot skip the check.
    lane: Lane = field(kw_only=True)
    # Whether it changes state (then answered only once durable); reads sent as POST say no.
    writes: bool | None = field(default=None, kw_only=True)

    @functools.cached_property
    def path_ids(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.where == "path" and p.schema.get("pattern"))

    @property
    def is_write(self) -> bool:
        return self.method != "GET" if self.writes is None else self.writes


def request_id(request: Request) -> str | None:
    value = request.scope.get(REQUEST_ID)
    return None if value is None else str(value)


async def _body(op: Op, ctx: Ctx) -> Any:
    request = ctx.request
    raw = await codec.read_body(request, ctx.services.settings.body_bytes_max)
    if not raw or raw.isspace():
        if op.body_optional:
            return None
        raise invalid("body", "a JSON body is required")
    codec.check_content_type(request)
    return codec.decode(raw, op.body)


async def _handle(op: Op, ctx: Ctx, body: Any) -> tuple[Response, str]:
    """The handler, and for a write the durability wait, success or refusal alike: a
    refusal may rest on state other writers have not made durable yet, and a retry is
    given the same answer."""
    # Who did it: the key, and a write's Atp-Reference, ride on its events (atp/actor.py).
    reference = ctx.request.headers.get(actor.REFERENCE_HEADER) if op.is_write else None
    ref = actor.check_reference(reference)
    durability = ctx.services.durability
    generation = durability.check() if op.is_write else 0
    try:
        with actor.acting(ctx.principal.key_id, ref):
            status, payload = await op.handler(ctx, body)
        # A stream (GET /v1/changes) is its own response; everything else is encoded here.
        if isinstance(payload, Response):
            response, outcome = payload, "ok"
        else:
            response, outcome = codec.json_response(status, payload), "ok"
    except (ApiError, InvalidInput, Refusal) as exc:
        error = _problem_of(exc)
        response, outcome = codec.problem_response(error, request_id(ctx.request)), error.slug
    if op.is_write:
        await durability.sync(ctx.partitions, generation)
    return response, outcome


def _problem_of(exc: ApiError | InvalidInput | Refusal) -> ApiError:
    """A refusal of the engine (invalid input) or of the order service, as a problem."""
    if isinstance(exc, InvalidInput):
        return invalid(exc.field, exc.message)
    return refused(exc) if isinstance(exc, Refusal) else exc


async def run_authenticated(op: Op, ctx: Ctx) -> tuple[Response, str]:
    """The response and its outcome for the ledger-operation counter: every step after
    authentication (scope, rate limit, body, lane, idempotency, handler, durability). The
    page (ui/calls.py) runs its sessions' requests through it too."""
    services, request = ctx.services, ctx.request
    if op.scope is not None:
        ctx.principal.require(op.scope)
        services.limiter.check(ctx.principal.key_id, ctx.principal.rate_per_s)
    for name in op.path_ids:  # one id rule for every path, before anything looks them up
        check_id(name, ctx.path(name))
    body = None if op.body is None else await _body(op, ctx)
    await op.lane(ctx, body)
    key = request.headers.get(idempotency.HEADER) if op.idempotent else None
    if key is None:
        return await _handle(op, ctx, body)
    ctx.idempotency_key = idempotency.check_key(key)
    path = request.url.path + ("?" + request.url.query if request.url.query else "")
    # The decoded body re-encoded: a retry may reorder keys or change spacing.
    canonical = b"" if body is None else codec.encode(body)
    digest = idempotency.request_digest(op.method, path, canonical)
    kid, records = ctx.principal.key_id, services.idempotency
    stored = await records.begin(kid, key, digest)
    if stored is not None:
        headers = {"Idempotent-Replayed": "true"}
        return Response(stored.body, stored.status, headers, stored.content_type), "replayed"
    try:
        response, outcome = await _handle(op, ctx, body)
        # The first answer, refusals included, is what every retry gets.
        await records.finish(
            kid, key, digest, response.status_code, bytes(response.body), response.media_type or ""
        )
    except BaseException:
        try:
            await records.abandon(kid, key)
        finally:
            records.done(kid, key)
        raise
    records.done(kid, key)
    return response, outcome


def _unavailable() -> ApiError:
    return ApiError(
        503,
        "unavailable",
        "Ledger unavailable",
        "the ledger or its journal cannot be reached, or is being rebuilt; retry shortly "
        "with the same Idempotency-Key",
        headers={"Retry-After": "1"},
    )


async def _serve(op: Op, request: Request) -> tuple[Response, str]:
    services: Services = request.app.state.services

    async def authenticated() -> tuple[Response, str]:
        if op.scope is None:
            principal = PUBLIC
        else:
            principal = await services.auth.authenticate(request.headers.get("authorization"))
            request.scope[KEY_ID] = principal.key_id
        return await run_authenticated(op, Ctx(request, services, principal))

    return await answered(op, request, authenticated())


async def answered(
    op: Op, request: Request, work: Awaitable[tuple[Response, str]]
) -> tuple[Response, str]:
    """``work``'s answer, or the problem for what it raised: the one mapping of errors to
    answers, for /v1 and for the page's calls (ui/calls.py) alike."""
    try:
        return await work
    except InvalidInput as exc:
        return codec.problem_response(invalid(exc.field, exc.message), request_id(request)), (
            "invalid-input"
        )
    except (
        RedisConnectionError,
        RedisTimeoutError,
        ConnectionError,
        TimeoutError,
        LedgerUnavailable,
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.OperatorInterventionError,
        asyncpg.exceptions.InsufficientResourcesError,
        asyncpg.InternalClientError,
    ) as exc:
        # One line, no traceback: a Redis loss makes every request say it, and it is expected.
        log.warning("unavailable in %s (request %s): %s: %s", op.name, request_id(request),
                    type(exc).__name__, exc)  # fmt: skip
        error = _unavailable()
    except ApiError as exc:
        error = exc
    except ClientDisconnect:  # gone mid-body (a load tool stopping): nobody reads an answer
        error = ApiError(400, "client-disconnected", "Client disconnected", "the body ended early")
    except Exception:  # a bug: answer with a problem carrying the request id, and log it
        log.exception("unhandled error in %s (request %s)", op.name, request_id(request))
        error = ApiError(500, "internal", "Internal error", "an unexpected error; it is logged")
    return codec.problem_response(error, request_id(request)), error.slug or str(error.status)


def endpoint(op: Op) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        request.scope[ROUTE] = op.path
        response, outcome = await _serve(op, request)
        if op.scope is not None:
            metrics.count_operation(op.name, outcome)
        return response

    handle.__name__ = op.name
    return handle
