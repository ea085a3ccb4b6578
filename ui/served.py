"""The engine's server with its page: the API (api/app.py) and the page's routes beside
it. ``atp serve`` runs ``serve_app``; the page sits above the API (it calls the API's
operations), so the API never imports it."""

from fastapi import FastAPI
from starlette.types import ASGIApp

from api.app import asgi, create_app
from api.settings import Settings
from atp.clock import Clock
from ui.app import mount


def create_served_app(settings: Settings | None = None, clock: Clock | None = None,
                      freeze_gc: bool = False) -> FastAPI:  # fmt: skip
    return mount(create_app(settings, clock, freeze_gc))


def serve_app() -> ASGIApp:
    """The uvicorn factory: settings from the environment, GC frozen (as api.app's)."""
    return asgi(create_served_app(freeze_gc=True))
