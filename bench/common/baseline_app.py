"""The HTTP baseline: the same stack as the API (FastAPI app, Starlette routes, msgspec
bodies, the engine's pipelined Redis transport, uvloop + httptools, served by
``cli.supervisor`` the same way) with bare endpoints doing one Redis call each, so a route's
requests/s can be read as a share of what one round trip costs here.

``GET /baseline/hget``: one HGET of a position hash.
``POST /baseline/evalsha``: one EVALSHA of a trivial script (reads one field).
"""

import contextlib
import gc
from collections.abc import AsyncIterator

import msgspec
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from api.settings import from_env
from atp.redis_connect import connect
from atp.scripts import Script

KEY = "atp:{p00}:pos:BASE:BASE"
TRIVIAL = Script("baseline", "return redis.call('HGET', KEYS[1], 'oh')")


class Value(msgspec.Struct, frozen=True):
    value: str | None


_encode = msgspec.json.Encoder().encode


async def hget(request: Request) -> Response:
    value = await request.app.state.redis.command("HGET", KEY, "oh")
    return Response(_encode(Value(value)), media_type="application/json")


async def evalsha(request: Request) -> Response:
    await request.body()  # the API reads and decodes a body too
    value = await request.app.state.redis.run(TRIVIAL, [KEY], [])
    return Response(_encode(Value(value)), media_type="application/json")


def create() -> FastAPI:
    url = from_env().redis_url

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = connect(url)
        await app.state.redis.command("HSET", KEY, "oh", 1)
        gc.collect()
        gc.freeze()
        yield
        await app.state.redis.close()

    app = FastAPI(
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},  # as the API
    )
    app.add_route("/baseline/hget", hget, methods=["GET"])
    app.add_route("/baseline/evalsha", evalsha, methods=["POST"])
    app.add_route("/readyz", hget, methods=["GET"])  # what cli.supervisor.wait_ready polls
    return app
