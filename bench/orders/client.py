"""A keep-alive HTTP/1.1 connection for the load, on asyncio streams.

httpx costs a few hundred microseconds of this process's CPU a request; on a 2-core
machine shared with the server that CPU would come out of the server's share. One request
at a time per connection, no pipelining, bodies framed by Content-Length (the API always
sends one).
"""

import asyncio
import contextlib

from bench.orders.world import HOST

HEAD_BYTES_MAX = 64 * 1024  # a response head past this is a broken server, not a slow one


class Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str, port: int
    ) -> None:
        self._reader, self._writer = reader, writer
        self._fixed = f"Host: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n".encode()

    @classmethod
    async def open(cls, port: int, key: str) -> "Connection":
        reader, writer = await asyncio.open_connection(HOST, port, limit=HEAD_BYTES_MAX)
        return cls(reader, writer, key, port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """(status, body) of one request."""
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._fixed
        if body or method != "GET":
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self._writer.write(head + b"\r\n" + body)
        raw = await self._reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.lower().split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line[15:])
                break
        else:
            if b"transfer-encoding" in raw.lower():
                raise ConnectionError("chunked response: this client reads Content-Length only")
        return status, await self._reader.readexactly(length) if length else b""

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):  # the server went first
            await self._writer.wait_closed()
