"""The page reads and acts only through the API's own operations, in-process.

``call`` runs an operation of the table (api/routes.py, by its operationId) for the
signed-in key exactly as a /v1 request of that key would run: the same scope check, rate
limit, body decoding, lane confinement (api/lanes.py), idempotency, handler and
durability wait. So what a page shows and allows is, by construction, what the key may
read and do on /v1: one rule, not a second copy of it here.
"""

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from api.auth import Principal, Scope
from api.ops import Ctx, Op, answered, run_authenticated
from api.routes import OPS

BY_NAME: Final[dict[str, Op]] = {op.name: op for op in OPS}


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the decoded JSON (a problem when status >= 400); None for a stream
    response: Response

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def detail(self) -> str:
        """A problem's detail, for the page to show."""
        if isinstance(self.body, dict):
            return str(self.body.get("detail") or self.body.get("title") or self.status)
        return str(self.status)


def allows(principal: Principal, name: str) -> bool:
    """Whether the key has the scope an operation needs (its lanes are judged when it
    runs): the page hides controls the API would refuse for want of a scope."""
    scope = BY_NAME[name].scope
    return scope is None or scope in principal.scopes or Scope.admin in principal.scopes


def _scope(
    request: Request, op: Op, path: dict[str, str], query: Any, raw: bytes, last_event_id: str
) -> Any:
    target = op.path.format(**{k: quote(v, safe="") for k, v in path.items()})
    scope = dict(request.scope)
    scope.update(
        method=op.method,
        path=target,
        raw_path=target.encode(),
        query_string=urlencode(query, doseq=True).encode(),
        path_params=path,
        headers=[
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
    )
    if last_event_id:  # a browser's EventSource resuming: the feed's own resume rule
        scope["headers"].append((b"last-event-id", last_event_id.encode("latin-1")))
    return scope


async def call(
    request: Request,
    principal: Principal,
    name: str,
    *,
    path: dict[str, str] | None = None,
    query: Any = (),
    body: Any = None,
    last_event_id: str = "",
) -> Answer:
    op = BY_NAME[name]
    raw = b"" if body is None else msgspec.json.encode(body)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:  # the body once, then the real connection's (a stream's disconnect)
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await request.receive()

    inner = Request(_scope(request, op, path or {}, query, raw, last_event_id), receive)
    ctx = Ctx(inner, request.app.state.services, principal)
    response, _ = await answered(op, inner, run_authenticated(op, ctx))  # /v1's error answers
    content = getattr(response, "body", None)
    decoded = msgspec.json.decode(content) if content else None
    return Answer(response.status_code, decoded, response)
