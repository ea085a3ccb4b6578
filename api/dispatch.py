"""The served ASGI app: request context, then the operation table served directly, then
FastAPI for everything else (docs, the OpenAPI document, 404 and 405 problems, lifespan).

Why: the operations take no FastAPI dependencies and catch their own errors, so FastAPI's
router, exception and exit-stack middleware add nothing to them but time (about a fifth
of a hold's cost here). Paths are matched segment by segment against the same templates,
in the same order, as the Starlette routes FastAPI holds, so both see the same path
parameters (tests/api compares them); a path that matches with another method falls
through to FastAPI, which answers 405 with the right Allow header.
"""

from collections import defaultdict

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from api import codec, fast
from api.middleware import RequestContext
from api.ops import Op, endpoint, request_id
from api.problems import http_problem


class Dispatch:
    def __init__(self, app: FastAPI, ops: list[Op]) -> None:
        self.app = app
        # Literal paths by dict; parametrised ones by their first two segments, in table
        # order: a regex scan over every route costs more than the rest of routing.
        self.literal: dict[tuple[str, str], Route] = {}
        # A literal path with another method goes to a templated route that takes it
        # (GET /v1/availability/query: the SKU "query"), else it is 405: PUT
        # /v1/policies/audit is not a policy, "audit" being outside {name}'s enum.
        self.literal_methods: dict[str, list[str]] = defaultdict(list)
        self.groups: dict[str, list[tuple[Route, Template]]] = defaultdict(list)
        for op in ops:
            route = Route(op.path, endpoint(op), methods=[op.method])
            if "{" in op.path:
                self.groups[_group(op.path)].append((route, _template(op)))
            else:
                self.literal[(op.method, op.path)] = route
                self.literal_methods[op.path].append(op.method)

    async def __call__(self, asgi_scope: AsgiScope, receive: Receive, send: Send) -> None:
        if asgi_scope["type"] == "http":
            path = asgi_scope["path"]
            if (
                path.startswith(fast.PREFIX)
                and asgi_scope["method"] == "GET"
                and await fast.serve_availability(self.app.state.services, asgi_scope, send)
            ):
                return
            route = self.literal.get((asgi_scope["method"], path))
            if route is not None:
                asgi_scope["path_params"] = {}
                await self._serve(route, asgi_scope, receive, send)
                return
            candidates = self.groups.get(_group(path))
            if candidates:
                parts = path.split("/")
                method = asgi_scope["method"]
                for route, (wanted, segments) in candidates:
                    params = _match(segments, parts) if method == wanted else None
                    if params is not None:
                        asgi_scope["path_params"] = params
                        await self._serve(route, asgi_scope, receive, send)
                        return
            allowed = self.literal_methods.get(path)
            if allowed is not None:
                await _not_allowed(allowed, asgi_scope, receive, send)
                return
        await self.app(asgi_scope, receive, send)

    async def _serve(
        self, route: Route, asgi_scope: AsgiScope, receive: Receive, send: Send
    ) -> None:
        asgi_scope["app"] = self.app  # request.app.state holds the services
        response = await route.endpoint(Request(asgi_scope, receive))
        await response(asgi_scope, receive, send)


async def _not_allowed(
    allowed: list[str], asgi_scope: AsgiScope, receive: Receive, send: Send
) -> None:
    error = http_problem(405, "Method Not Allowed")
    methods = {*allowed, "HEAD"} if "GET" in allowed else set(allowed)  # as Starlette's
    error.headers["Allow"] = ", ".join(sorted(methods))
    response = codec.problem_response(error, request_id(Request(asgi_scope, receive)))
    await response(asgi_scope, receive, send)


def _group(path: str) -> str:
    return "/".join(path.split("/", 3)[:3])


# A path template as (method, segments); a segment is a literal, or None for a parameter
# with its name and, if its schema has an enum, the values it takes. Starlette's default
# {param} convertor is `str`: one non-empty segment without "/", which this matcher takes
# too (narrowed by an enum: a value outside it is no match, as the handler would refuse).
Segment = tuple[str | None, str, frozenset[str] | None]
Template = tuple[str, tuple[Segment, ...]]


def _template(op: Op) -> Template:
    enums = {p.name: frozenset(p.schema["enum"]) for p in op.params if "enum" in p.schema}
    segments: list[Segment] = []
    for part in op.path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            segments.append((None, part[1:-1], enums.get(part[1:-1])))
        else:
            segments.append((part, "", None))
    return op.method, tuple(segments)


def _match(segments: tuple[Segment, ...], parts: list[str]) -> dict[str, str] | None:
    if len(parts) != len(segments):
        return None
    params = {}
    for (literal, name, allowed), part in zip(segments, parts, strict=True):
        if literal is None:
            if not part or (allowed is not None and part not in allowed):
                return None
            params[name] = part
        elif literal != part:
            return None
    return params


def served(app: FastAPI, ops: list[Op]) -> ASGIApp:
    return RequestContext(Dispatch(app, ops))
