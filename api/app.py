"""The application factory. Resources (the engine's Redis connection, loaded scripts, the
expiry sweeper, the key cache) start and stop in the lifespan, never at import."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from api import codec, health, metrics, openapi
from api.auth import Authenticator
from api.dispatch import served
from api.idempotency import Idempotency
from api.ops import Op, endpoint, request_id
from api.problems import http_problem
from api.ratelimit import RateLimiter
from api.routes_attention import OPS as ATTENTION
from api.routes_availability import OPS as AVAILABILITY
from api.routes_pos import OPS as POS
from api.routes_reservations import OPS as RESERVATIONS
from api.routes_routing import OPS as ROUTING
from api.routes_stock import OPS as STOCK
from api.services import Services
from api.settings import Settings, from_env
from atp.clock import Clock
from atp.engine import Engine
from atp.pos import Pos
from atp.replica_reads import ReplicaReads
from journal.db import create_pool
from journal.directory import CatalogDirectory
from journal.engine import DurableEngine
from routing.directory import InMemoryDirectory, LocationDirectory
from routing.pickload import CapacityDirectory, PickLoad

# Routes match in order: the hot ones (holds, storefront reads) first.
OPS: list[Op] = [*RESERVATIONS, *AVAILABILITY, *STOCK, *POS, *ROUTING, *ATTENTION]
TITLE = "ATP engine API"
VERSION = "1"


METRICS_INTERVAL_S = 1.0  # engine figures kept as plain numbers are exported this often


async def _export_engine_metrics(engine: Engine | DurableEngine) -> None:
    """The sweeper keeps a plain total and the replica its lag: export them each second
    (cheaper than touching Prometheus on every expiry or applied event)."""
    seen = 0
    while True:
        await asyncio.sleep(METRICS_INTERVAL_S)
        metrics.flush()
        total = engine.sweeper.expired_total
        if total > seen:
            metrics.HOLD_EXPIRIES.inc(total - seen)
        seen = total
        if engine.replica is not None:
            metrics.REPLICA_LAG_SECONDS.set(engine.replica.lag_now_ms() / 1000)
            metrics.REPLICA_READY.set(1 if engine.replica.ready else 0)


def _directory(settings: Settings, pool: asyncpg.Pool | None) -> LocationDirectory | None:
    """Routing's locations: the catalogue, else (development) a JSON file, else none."""
    if pool is not None:
        return CatalogDirectory(pool)
    if settings.locations_file is not None:
        return InMemoryDirectory.from_json(Path(settings.locations_file).read_bytes())
    return None


def _lifespan(settings: Settings, clock: Clock | None, freeze_gc: bool) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = None
        engine: Engine | DurableEngine
        if settings.pg_dsn is not None:
            pool = await create_pool(settings.pg_dsn)
        # Routing's locations (their pick capacity less what was allocated today); with
        # them, each process also re-sources shorted reservations.
        directory = _directory(settings, pool)
        pickload = None
        if pool is not None:
            # Rebuilds the ledger first if Redis lost it; marks it ready after every rebuild.
            engine = await DurableEngine.open(
                settings.redis_url,
                pool,
                clock=clock,
                start_sweeper=False,
                on_ready=health.mark_ledger,
                replica=settings.use_replica,
                directory=directory,
            )
        else:
            engine = Engine.connect(
                settings.redis_url, clock, replica=settings.use_replica, directory=directory
            )
        await health.load_scripts(engine.redis)
        await health.mark_ledger(engine.redis)
        if directory is not None:
            pickload = PickLoad(engine.redis)
            directory = CapacityDirectory(directory, pickload)
        replica_reads = None
        if engine.replica is not None:
            # Loads in the background: reads go to Redis, and /readyz says not ready, until
            # it has caught up.
            await engine.replica.start(wait=False)
            replica_reads = ReplicaReads(engine.replica, engine.redis)
        app.state.services = Services(
            settings=settings,
            engine=engine,
            pos=Pos(engine.redis, clock),
            auth=Authenticator(engine.redis, settings.auth_cache_ttl_s, settings.auth),
            idempotency=Idempotency(engine.redis),
            limiter=RateLimiter(settings.rate_limit_per_s, settings.workers, settings.rate_burst_s),
            replica_reads=replica_reads,
            directory=directory,
            pickload=pickload,
        )
        if settings.run_sweeper:
            engine.start()
        counter = asyncio.create_task(_export_engine_metrics(engine), name="engine-metrics")
        if freeze_gc:
            # Start-up objects live forever: keep the cycle collector off them (stack-notes).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            counter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await counter
            metrics.flush()
            await engine.close()
            if pool is not None:
                await pool.close()

    return lifespan


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = http_problem(exc.status_code, str(exc.detail))
    if exc.headers:
        error.headers.update(exc.headers)
    if exc.status_code == 405:  # Starlette names only the first matching route's methods
        error.headers["Allow"] = ", ".join(_allowed(request))
    return codec.problem_response(error, request_id(request))


def _allowed(request: Request) -> list[str]:
    path = request.url.path
    routes = [r for r in request.app.routes if isinstance(r, Route) and r.path_regex.match(path)]
    literal = [r for r in routes if r.path == path]  # /v1/availability/query, not {sku}
    methods: set[str] = set()
    for route in literal or routes:
        methods |= route.methods or set()
    return sorted(methods)


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, freeze_gc: bool = False
) -> FastAPI:
    settings = (settings or from_env()).validate()
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan(settings, clock, freeze_gc),
        # Our own Prometheus metrics; FastAPI's OpenTelemetry hooks would cost every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    for op in OPS:
        app.add_route(op.path, endpoint(op), methods=[op.method], include_in_schema=False)
    for path, handler in health.ROUTES:
        app.add_route(path, handler, methods=["GET"], include_in_schema=False)
    document = openapi.document(OPS, TITLE, VERSION)
    app.openapi = lambda: document  # type: ignore[method-assign]
    app.add_exception_handler(HTTPException, _http_error)
    return app


def asgi(app: FastAPI) -> ASGIApp:
    """What a server runs: the request context and the fast operation dispatch in front."""
    return served(app, OPS)


def serve_app() -> ASGIApp:
    """The uvicorn factory ``atp serve`` runs: settings from the environment, GC frozen."""
    return asgi(create_app(freeze_gc=True))
