"""The page's routes, mounted beside the API (ui/served.py). None is an operation of the
API: they stay out of the OpenAPI document and the operation table."""

from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.ops import ROUTE
from ui import (
    assets,
    pages_auth,
    pages_availability,
    pages_kpis,
    pages_live,
    pages_reservations,
    pages_store,
)

Endpoint = Callable[[Request], Awaitable[Response]]
ROUTES: Final[list[BaseRoute]] = [
    Route("/ui", pages_auth.home, methods=["GET"]),
    Route("/ui/", pages_auth.home, methods=["GET"]),
    Route("/ui/sign-in", pages_auth.sign_in_page, methods=["GET"]),
    Route("/ui/sign-in", pages_auth.sign_in, methods=["POST"]),
    Route("/ui/sign-out", pages_auth.sign_out, methods=["POST"]),
    Route(assets.PREFIX + "{name}", assets.serve, methods=["GET"]),
    Route("/ui/availability", pages_availability.page, methods=["GET"]),
    Route("/ui/availability/grid", pages_availability.fragment, methods=["GET"]),
    Route("/ui/live/changes", pages_live.changes, methods=["GET"]),
    Route("/ui/feed", pages_live.feed, methods=["GET"]),
    Route("/ui/store", pages_store.store, methods=["GET"]),
    Route("/ui/store/{location}", pages_store.view, methods=["GET"]),
    Route("/ui/store/{location}/orders/{order_id}/{step}", pages_store.step, methods=["POST"]),
    Route("/ui/store/{location}/attention/resolve", pages_store.resolve, methods=["POST"]),
    Route("/ui/reservations", pages_reservations.page, methods=["GET"]),
    Route("/ui/kpis", pages_kpis.page, methods=["GET"]),
]


def _named(path: str, endpoint: Endpoint) -> Endpoint:
    """Names the route's template for the access log and the request metrics, as the
    operation table does for /v1 (api/middleware.py reads it)."""

    async def handle(request: Request) -> Response:
        request.scope[ROUTE] = path
        return await endpoint(request)

    return handle


def mount(app: FastAPI) -> FastAPI:
    """Adds the page's routes to the app (outside the OpenAPI document)."""
    for route in ROUTES:
        assert isinstance(route, Route)
        methods = sorted(route.methods or ())
        app.add_route(
            route.path, _named(route.path, route.endpoint), methods, include_in_schema=False
        )
    return app
