"""The served ASGI app: request context, then the operation table served directly, then
FastAPI for everything else (docs, the OpenAPI document, 404 and 405 problems, lifespan).

Why: the operations take no FastAPI dependencies and catch their own errors, so FastAPI's
router, exception and exit-stack middleware add nothing to them but time (about a fifth
of a hold's cost here). Matching uses the same Starlette routes FastAPI holds, in the
same order, so both see the same path parameters; a path that matches with another
method falls through to FastAPI, which answers 405 with the right Allow header.
"""

from collections import defaultdict

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware import RequestContext
from api.ops import Op, endpoint


class Dispatch:
    def __init__(self, app: FastAPI, ops: list[Op]) -> None:
        self.app = app
        # Literal paths by dict; parametrised ones by their first two segments, in table
        # order: a regex scan over every route costs more than the rest of routing.
        self.literal: dict[tuple[str, str], Route] = {}
        self.groups: dict[str, list[Route]] = defaultdict(list)
        for op in ops:
            route = Route(op.path, endpoint(op), methods=[op.method])
            if "{" in op.path:
                self.groups[_group(op.path)].append(route)
            else:
                self.literal[(op.method, op.path)] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            route = self.literal.get((scope["method"], path))
            if route is not None:
                scope["path_params"] = {}
                await self._serve(route, scope, receive, send)
                return
            for route in self.groups.get(_group(path), ()):
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    await self._serve(route, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app  # request.app.state holds the services
        response = await route.endpoint(Request(scope, receive))
        await response(scope, receive, send)


def _group(path: str) -> str:
    return "/".join(path.split("/", 3)[:3])


def served(app: FastAPI, ops: list[Op]) -> ASGIApp:
    return RequestContext(Dispatch(app, ops))
