"""A real webhook receiver on 127.0.0.1 (an ephemeral port, uvicorn in this process) that
verifies every delivery with the ``standardwebhooks`` package, records what came, and
answers what the test tells it to."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int  # what the receiver answered

    @property
    def payload(self) -> Any:
        return msgspec.json.decode(self.body)


# (path, webhook id, how many times this id came before) -> status to answer
Answer = Callable[[str, str, int], int]


@dataclass
class Receiver:
    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # path -> endpoint secret
    answer: Answer = lambda path, webhook_id, seen: 204
    received: list[Received] = field(default_factory=list)
    delay_s: float = 0.0  # before answering: keeps deliveries in flight longer
    # Cleared: requests wait unanswered (``waiting`` counts them) until it is set again.
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self, path: str | None = None) -> list[Received]:
        """What was answered 2xx, in arrival order."""
        return [r for r in self.received if 200 <= r.status < 300 and path in (None, r.path)]

    def _verify(self, path: str, body: bytes, headers: dict[str, str]) -> bool:
        secret = self.secrets.get(path)
        if secret is None:
            return False
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        path, webhook_id = scope["path"], headers.get("webhook-id", "")
        seen = sum(1 for r in self.received if r.webhook_id == webhook_id)
        if not self.flowing.is_set():
            self.waiting += 1
            await self.flowing.wait()
            self.waiting -= 1
        status = self.answer(path, webhook_id, seen)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        verified = self._verify(path, body, headers)
        self.received.append(Received(path, webhook_id, headers, body, verified, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    receiver.flowing.set()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    receiver.port = sock.getsockname()[1]
    config = uvicorn.Config(receiver, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110  (uvicorn has a flag, no event)
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
