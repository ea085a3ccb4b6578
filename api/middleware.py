"""Request id, latency and the access log for every response, as plain ASGI
(BaseHTTPMiddleware costs a task and a body copy per request)."""

import itertools
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from api import metrics
from api.ops import REQUEST_ID, ROUTE
from api.settings import REQUEST_ID_LENGTH_MAX, access_log_from_env

ACCESS_LOG = "atp.access"
KEY_ID = "atp.key_id"  # ASGI scope key: the calling key's id, set by authentication
_access = logging.getLogger(ACCESS_LOG)
_SAFE_ID = re.compile(rf"[A-Za-z0-9._:\-]{{1,{REQUEST_ID_LENGTH_MAX}}}")


# Request ids: a random per-process prefix and a counter. Unique across processes and
# restarts like a random id, without a getrandom syscall per request.
_PREFIX = os.urandom(8).hex()
_COUNTER = itertools.count(1)


def _new_id() -> str:
    return f"{_PREFIX}{next(_COUNTER):016x}"


def _log_access(asgi_scope: AsgiScope, route: str, status: int, seconds: float) -> None:
    """One JSON line (logging's own format is "%(message)s"), written by a template: every
    value is a number or a string that needs no escaping (an HTTP method, a route template,
    an id matching ID_PATTERN or _SAFE_ID), and json.dumps cost ~10 us a request."""
    key_id = asgi_scope.get(KEY_ID)
    key = "null" if key_id is None else f'"{key_id}"'
    _access.info(
        f'{{"method":"{asgi_scope["method"]}","route":"{route}","status":{status},'
        f'"latency_ms":{round(seconds * 1000, 3)},"key_id":{key},'
        f'"request_id":"{asgi_scope[REQUEST_ID]}"}}'
    )


class RequestContext:
    def __init__(self, app: ASGIApp, access_log: bool | None = None) -> None:
        """``access_log``: None reads ATP_ACCESS_LOG (on unless turned off)."""
        self.app = app
        self.access_log = access_log_from_env() if access_log is None else access_log

    async def __call__(self, asgi_scope: AsgiScope, receive: Receive, send: Send) -> None:
        if asgi_scope["type"] != "http":
            await self.app(asgi_scope, receive, send)
            return
        given = next((v for k, v in asgi_scope["headers"] if k == b"x-request-id"), None)
        # Echo a caller's id only when it is safe to put in logs and headers.
        text = "" if given is None else given.decode("latin-1")
        request_id = text if text and _SAFE_ID.fullmatch(text) else _new_id()
        asgi_scope[REQUEST_ID] = request_id
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
            await self.app(asgi_scope, receive, send_with_id)
        finally:
            route = asgi_scope.get(ROUTE, "unmatched")
            seconds = time.perf_counter() - started
            metrics.observe_request(route, asgi_scope["method"], status, seconds)
            # Off: not even the logger's level check. On: skipped by the level check when
            # nothing listens at INFO (uvicorn's own setup leaves the root at WARNING).
            if self.access_log and _access.isEnabledFor(logging.INFO):
                _log_access(asgi_scope, route, status, seconds)
