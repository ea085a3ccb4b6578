"""The retailer's messaging tool, as far as the day needs it: a webhook endpoint on
loopback that takes each ``alert.triggered`` delivery and hands it to the simulation.
Served by uvicorn in the simulation's own event loop. Signatures are not checked here:
the engine's own tests verify them (tests/webhooks/)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
PATH = "/hooks/alerts"


def app(on_event: Callable[[dict[str, Any]], None]) -> Any:
    async def asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 404
        if scope["method"] == "POST" and scope["path"] == PATH:
            event = json.loads(body)
            if event.get("type") == "alert.triggered":
                on_event(event["data"])
            status = 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return asgi


@contextlib.asynccontextmanager
async def serving(port: int, on_event: Callable[[dict[str, Any]], None]) -> AsyncIterator[str]:
    """The endpoint's URL while it serves."""
    config = uvicorn.Config(app(on_event), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}{PATH}"
    finally:
        server.should_exit = True
        await task
