"""Liveness, readiness and metrics endpoints (no API key: probes and scrapers call them).

Readiness asks every master (one node on a single Redis, each master of a cluster): each
must answer, hold the scripts and still hold every partition's copy of the ledger epoch
(durability/fence.py), so one master down or restarted empty makes the process not ready.
"""

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import codec, metrics
from api.ops import ROUTE
from api.schemas import Health
from atp import availability, keys, register_events, stock, supply_writes
from atp.limits import LEDGER_PARTITIONS
from atp.redis_io import RedisIO
from atp.redis_nodes import node_command, primaries
from atp.scripts import Script
from durability import journal_cursor
from durability.streams import current_epoch
from reservations import calls

LEDGER_MARKER = keys.LEDGER_MARKER
READY_TIMEOUT_S = 1.0


def engine_scripts() -> list[Script]:
    """Every script the API may run, found beside its wrapper."""
    found: dict[str, Script] = {}
    for module in (stock, supply_writes, availability, register_events, calls, journal_cursor):
        for value in vars(module).values():
            if isinstance(value, Script):
                found[value.sha] = value
    return list(found.values())


async def load_scripts(redis: RedisIO) -> None:
    """Loaded once at start so the first requests do not pay for EVAL (on every master)."""
    for node in await primaries(redis):
        await _load_on(redis, node)


async def _load_on(redis: RedisIO, node: str) -> None:
    sources = [s.source for s in engine_scripts()]
    await asyncio.gather(*(node_command(redis, node, "SCRIPT", "LOAD", s) for s in sources))


async def mark_ledger(redis: RedisIO) -> None:
    """Written once on a fresh Redis; if the data is lost under a running server, the
    marker goes with it and /readyz fails rather than serving an empty ledger as truth."""
    await redis.command("HSETNX", LEDGER_MARKER, "partitions", LEDGER_PARTITIONS)


async def _node_checks(redis: RedisIO, node: str) -> tuple[bool, bool]:
    """(answers, holds every script) for one master; scripts a restart dropped are loaded."""
    answers = await node_command(redis, node, "PING") in (True, "PONG")
    shas = [s.sha for s in engine_scripts()]
    loaded = all(await node_command(redis, node, "SCRIPT", "EXISTS", *shas))
    if not loaded:  # the master restarted: the script cache went with it
        await _load_on(redis, node)
        loaded = all(await node_command(redis, node, "SCRIPT", "EXISTS", *shas))
    return answers, loaded


async def _checks(redis: RedisIO) -> dict[str, bool]:
    nodes = await asyncio.gather(*(_node_checks(redis, n) for n in await primaries(redis)))
    partitions, epoch = await asyncio.gather(
        redis.command("HGET", LEDGER_MARKER, "partitions"), current_epoch(redis)
    )
    return {
        "redis": all(answers for answers, _ in nodes),
        "scripts": all(loaded for _, loaded in nodes),
        # Marked by this API, and every partition still holds the epoch (none emptied).
        "ledger": partitions == str(LEDGER_PARTITIONS) and epoch is not None,
    }


async def healthz(request: Request) -> Response:
    request.scope[ROUTE] = "/healthz"
    return codec.json_response(200, Health("ok", {}))


async def readyz(request: Request) -> Response:
    request.scope[ROUTE] = "/readyz"
    services = request.app.state.services
    engine = services.engine
    try:
        checks = await asyncio.wait_for(_checks(engine.redis), READY_TIMEOUT_S)
    except (TimeoutError, OSError, ConnectionError, Exception):  # any failure: not ready
        checks = {"redis": False, "scripts": False, "ledger": False}
    try:
        checks["postgres"] = await asyncio.wait_for(services.pool.fetchval("SELECT 1"), 1.0) == 1
    except Exception:  # any failure: not ready
        checks["postgres"] = False
    # Whether the ledger is whole (not missing, not mid-rebuild).
    checks["ledger"] = checks["ledger"] and services.ledger_ready
    if engine.replica is not None:  # loaded, and following Redis closely enough to serve
        replica = engine.replica
        checks["replica"] = replica.serving
    ok = all(checks.values())
    return codec.json_response(200 if ok else 503, Health("ok" if ok else "unavailable", checks))


async def metrics_endpoint(request: Request) -> Response:
    request.scope[ROUTE] = "/metrics"
    body, content_type = metrics.render()
    return Response(body, 200, media_type=content_type)


ROUTES: list[tuple[str, Any]] = [
    ("/healthz", healthz),
    ("/readyz", readyz),
    ("/metrics", metrics_endpoint),
]
