"""The application factory. Resources (the engine's Redis connection, loaded scripts, the
expiry sweeper, the key cache) start and stop in the lifespan, never at import."""

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from alerts.settings import from_env as alerts_from_env
from api import codec, docs, health, metrics, openapi
from api.auth import Authenticator
from api.devices import DeviceDirectory
from api.dispatch import served
from api.idempotency import Idempotency
from api.instance import Instance
from api.kpi_gauges import KPI_REFRESH_S, KpiGauges
from api.middleware import ACCESS_LOG
from api.ops import endpoint, request_id
from api.problems import http_problem
from api.ratelimit import RateLimiter
from api.routes import OPS
from api.routes_alerts import background as alerts_worker
from api.settings import Settings, from_env
from api.wiring import Services
from atp.clock import Clock
from atp.register_events import Registers
from atp.replica_reads import ReplicaReads
from atp.tasks import Periodic, ended_within
from catalog.routing_directory import CatalogDirectory
from changes.feed import ChangeFeed
from durability.db import close_pool, create_pool
from engine.durable import start_durability
from engine.local import Engine
from engine.protocol import LedgerEngine
from orders.recovery import RECOVERY_INTERVAL_S, Sweep
from orders.service import Orders
from routing.location_directory import LocationDirectory
from routing.model import Policy
from routing.pickload import CapacityDirectory, PickLoad
from webhooks.runner import Webhooks

TITLE = "ATP engine API"
log = logging.getLogger(__name__)

SHUTDOWN_STEP_S = 10.0  # each part of the engine gets this long to stop (atp.tasks.ended_within)
ACCESS_LOGGER = logging.getLogger(ACCESS_LOG)
VERSION = "1"


METRICS_INTERVAL_S = 1.0  # engine figures kept as plain numbers are exported this often


class _EngineMetrics:
    """The sweeper keeps a plain total and the replica its lag: exported each second
    (cheaper than touching Prometheus on every expiry or applied event)."""

    def __init__(self, engine: LedgerEngine) -> None:
        self.engine = engine
        self.seen = 0

    async def export(self) -> None:
        metrics.flush()
        for handler in ACCESS_LOGGER.handlers:  # batched access lines leave at least this often
            handler.flush()
        total = self.engine.sweeper.expired_total
        if total > self.seen:
            metrics.HOLD_EXPIRIES.inc(total - self.seen)
        self.seen = total
        replica = self.engine.replica
        if replica is not None:
            metrics.REPLICA_LAG_SECONDS.set(replica.lag_now_ms() / 1000)
            metrics.REPLICA_READY.set(1 if replica.ready else 0)


KEY_TOUCH_INTERVAL_S = 10.0  # how often keys' last use is written
IDEMPOTENCY_EXPIRY_INTERVAL_S = 600.0  # how often records past retention are deleted


def _background(services: Services) -> list[Periodic]:
    """Bookkeeping off the request path: metrics, keys' last use, expired answers, and
    (with the sweeper) the orders' recovery sweep."""
    tasks = [
        Periodic("engine-metrics", _EngineMetrics(services.engine).export, METRICS_INTERVAL_S),
        Periodic("key-touch", services.auth.touch, KEY_TOUCH_INTERVAL_S),
        Periodic("idempotency-expiry", services.idempotency.expire, IDEMPOTENCY_EXPIRY_INTERVAL_S),
    ]
    if services.settings.run_sweeper and services.orders is not None:
        sweep = Sweep(services.orders)
        tasks.append(Periodic("order-recovery", sweep.round, RECOVERY_INTERVAL_S))
        # Every such process refreshes them; multiprocess "mostrecent": the newest wins.
        gauges = KpiGauges(services.pool, services.engine.reservations.clock)
        tasks.append(Periodic("kpi-gauges", gauges.refresh, KPI_REFRESH_S))
    return tasks


async def _open(settings: Settings, clock: Clock | None) -> Services:
    assert settings.pg_dsn is not None  # Settings.validate refuses a server without it
    pool = await create_pool(settings.pg_dsn)
    instance = Instance(settings.pg_dsn)
    await instance.start()
    # Routing's locations (their pick capacity less what was allocated today); with
    # them, each process also re-sources shorted reservations.
    directory: LocationDirectory = CatalogDirectory(pool)
    # A local engine: api/ops.py waits for durability once per write request. The ledger
    # is rebuilt first if Redis lost it, and marked ready after every rebuild.
    engine = Engine.connect(
        settings.redis_url,
        clock,
        replica=settings.use_replica,
        replica_partitions=settings.replica_partitions,
        directory=directory,
    )
    durability = await start_durability(engine.redis, pool, health.mark_ledger)
    engine.readiness = lambda: durability.healthy
    await health.load_scripts(engine.redis)
    await health.mark_ledger(engine.redis)
    pickload = PickLoad(engine.redis)
    replica_reads = None
    if engine.replica is not None:
        # Loads in the background: reads go to Redis, and /readyz says not ready, until
        # it has caught up.
        await engine.replica.start(wait=False)
        replica_reads = ReplicaReads(engine.replica, engine.redis)
    routing_directory = CapacityDirectory(directory, pickload)
    policy = Policy()
    orders = Orders(
        pool,
        engine,
        durability,
        lambda: routing_directory,
        policy,
        pickload=pickload,
        hold_ttl_s=settings.order_hold_ttl_s,
    )
    return Services(
        settings=settings,
        engine=engine,
        durability=durability,
        pool=pool,
        instance=instance,
        registers=Registers(engine.redis, clock),
        auth=Authenticator(pool, settings.auth_cache_ttl_s, settings.auth),
        idempotency=Idempotency(pool, instance.id),
        devices=DeviceDirectory(pool, settings.auth_cache_ttl_s),
        limiter=RateLimiter(settings.rate_limit_per_s, settings.workers, settings.rate_burst_s),
        replica_reads=replica_reads,
        feed=ChangeFeed(
            pool,
            _connect(settings.pg_dsn),
            engine.redis,
            durability,
            engine.replica,
            settings.sse_connections_max,
            settings.sse_heartbeat_s,
        ),
        directory=routing_directory,
        pickload=pickload,
        orders=orders,
        policy=policy,
    )


def _connect(dsn: str) -> Callable[[], Awaitable["asyncpg.Connection[asyncpg.Record]"]]:
    """A session of its own (the sequencer's lock, the hub's LISTEN), not a pooled one."""
    return lambda: asyncpg.connect(dsn)


async def _close(services: Services) -> None:
    metrics.flush()
    if services.feed is not None:
        await ended_within("the changes feed", services.feed.stop(), SHUTDOWN_STEP_S)
    await ended_within("durability", services.durability.stop(), SHUTDOWN_STEP_S)
    await ended_within("the engine", services.engine.close(), SHUTDOWN_STEP_S)
    await ended_within("the instance lock", services.instance.stop(), SHUTDOWN_STEP_S)
    await close_pool(services.pool, SHUTDOWN_STEP_S)


async def _webhooks(settings: Settings) -> Webhooks | None:
    """The feed fanned out to webhook endpoints and delivered, on a pool of its own."""
    if not settings.run_webhooks:
        return None
    assert settings.pg_dsn is not None
    runner = await Webhooks.connect(settings.pg_dsn, allow_private=settings.webhooks_allow_private)
    runner.start()
    return runner


def _lifespan(settings: Settings, clock: Clock | None, freeze_gc: bool) -> Any:
    alerts_settings = alerts_from_env()  # checked at start-up, before serving

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = app.state.services = await _open(settings, clock)
        if settings.run_sweeper:
            services.engine.start()
        if services.feed is not None:
            await services.feed.start()
        tasks = _background(services)
        for task in tasks:
            task.start()
        # Back-in-stock alerts: restocks read from the changes feed, sends, resends.
        alerts = app.state.alerts = alerts_worker(services, clock, alerts_settings)
        alerts.start()
        webhooks = await _webhooks(settings)
        if freeze_gc:
            # Start-up objects live forever: keep the cycle collector off them (stack-notes).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if webhooks is not None:
                await ended_within("webhooks", webhooks.stop(), SHUTDOWN_STEP_S)
            await ended_within("alerts", alerts.stop(), SHUTDOWN_STEP_S)
            for task in tasks:
                await ended_within(task.name, task.stop(), SHUTDOWN_STEP_S)
            for handler in ACCESS_LOGGER.handlers:
                handler.flush()
            await _close(services)

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
    clock = clock or settings.clock()
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        openapi_url="/openapi.json",
        docs_url=None,  # served below from local files (api/docs.py): no CDN
        redoc_url=None,
        lifespan=_lifespan(settings, clock, freeze_gc),
        # Our own Prometheus metrics; FastAPI's OpenTelemetry hooks would cost every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    for op in OPS:
        app.add_route(op.path, endpoint(op), methods=[op.method], include_in_schema=False)
    for path, handler in health.ROUTES:
        app.add_route(path, handler, methods=["GET"], include_in_schema=False)
    app.add_route(docs.DOCS, docs.page(TITLE, "/openapi.json"), ["GET"], include_in_schema=False)
    app.add_route(docs.ASSETS + "{name}", docs.asset, methods=["GET"], include_in_schema=False)
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
