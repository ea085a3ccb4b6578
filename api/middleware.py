"""Request id and latency for every response, as plain ASGI (BaseHTTPMiddleware costs
a task and a body copy per request)."""

import itertools
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.ops import REQUEST_ID, ROUTE
from api.settings import REQUEST_ID_LENGTH_MAX

_SAFE_ID = re.compile(rf"[A-Za-z0-9._:\-]{{1,{REQUEST_ID_LENGTH_MAX}}}")


# Request ids: a random per-process prefix and a counter. Unique across processes and
# restarts like a random id, without a getrandom syscall per request.
_PREFIX = os.urandom(8).hex()
_COUNTER = itertools.count(1)


def _new_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):016x}"


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        # Echo a caller's id only when it is safe to put in logs and headers.
        text = "" if given is None else given.decode("latin-1")
        request_id = text if text and _SAFE_ID.fullmatch(text) else _new_id()
        scope[REQUEST_ID] = request_id
        encoded = request_id.encode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", encoded)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get(ROUTE, "unmatched")
            metrics.observe_request(route, scope["method"], status, time.perf_counter() - started)
