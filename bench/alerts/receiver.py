"""The messaging tool, for the benchmark: a minimal HTTP/1.1 server on loopback that
answers 204 to every webhook and notes when each alert.triggered send arrived."""

import asyncio
import contextlib
import json
import time

HEADERS_BYTES_MAX = 64 * 1024


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # send id -> time.time() of its first arrival
        self._server: asyncio.Server | None = None
        self._arrival = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > HEADERS_BYTES_MAX:
                    break
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length)
                self._note(body)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    def _note(self, body: bytes) -> None:
        at = time.time()
        message = json.loads(body)
        if message.get("type") == "alert.triggered" and not message["data"].get("resend"):
            self.arrived.setdefault(message["data"]["send_id"], at)
            self._arrival.set()

    async def wait_for(self, send_ids: set[str], timeout_s: float) -> None:
        """Until every one of them arrived, or the timeout."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while send_ids - self.arrived.keys():
                    self._arrival.clear()
                    await self._arrival.wait()
