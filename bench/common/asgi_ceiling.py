"""The raw-ASGI ceiling: a bare app answering every request with a constant small JSON
body, served exactly as the API is (``cli.supervisor``: uvicorn, uvloop, httptools, one process
per worker). Its requests/s is what the server stack alone allows on this machine; the
availability route is measured as a share of it (python -m bench.reads)."""

from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

BODY = b'{"sku":"B-007","channel":"online","rows":[{"location":"W1","atp":5}]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(asgi_scope: AsgiScope, receive: Receive, send: Send) -> None:
    if asgi_scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def create() -> object:
    """The uvicorn factory ``cli.supervisor.start`` runs."""
    return app
