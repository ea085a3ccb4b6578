"""The benchmark's receiver, a process of its own: one uvicorn worker (uvloop, httptools)
that verifies every delivery with the ``standardwebhooks`` package, fails a given share of
them at random, and tells what came on ``GET /stats?from=N``.

    python -m bench.webhooks.receiver PORT SECRET FAIL_RATIO SEED
"""

import random
import sys
from typing import Any

import msgspec
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

_encode = msgspec.json.encode


class Receiver:
    def __init__(self, secret: str, fail_ratio: float, seed: int) -> None:
        self.webhook = Webhook(secret)
        self.fail_ratio = fail_ratio
        self.rng = random.Random(seed)
        self.received: list[tuple[str, int]] = []  # (webhook-id, status answered)
        self.unverified = 0

    async def _body(self, receive: Any) -> bytes:
        body = b""
        while True:
            message = await receive()
            chunk: bytes = message.get("body", b"")
            body += chunk
            if not message.get("more_body"):
                return body

    def _stats(self, query: bytes) -> bytes:
        start = int(query.partition(b"from=")[2] or 0)
        return _encode({"received": self.received[start:], "unverified": self.unverified})

    def _deliver(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            self.webhook.verify(body, headers)
        except WebhookVerificationError:
            self.unverified += 1
            return 400
        status = 500 if self.rng.random() < self.fail_ratio else 200
        self.received.append((headers["webhook-id"], status))
        return status

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await self._body(receive)
        if scope["method"] == "GET":
            status, answer = 200, self._stats(scope["query_string"])
        else:
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            status, answer = self._deliver(body, headers), b""
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": answer})


def main() -> None:
    port, secret, fail_ratio, seed = sys.argv[1:5]
    app = Receiver(secret, float(fail_ratio), int(seed))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
