"""Bulk writes for a rebuild: commands packed by hiredis and streamed over a connection of
their own, replies counted and checked in chunks. A million HSETs through coroutines and
futures cost ~10x more Python than the bytes they send; this is the way redis-cli --pipe
loads data, with the replies still read so an error is not missed."""

import asyncio
from collections.abc import Sequence
from urllib.parse import urlparse

import hiredis
from redis.exceptions import ResponseError

from durability.limits import REBUILD_PIPELINE_MAX

Arg = str | int


class BulkError(RuntimeError):
    pass


class BulkWriter:
    """Single Redis only (a rebuild does not run against a cluster)."""

    def __init__(self, url: str, chunk: int = REBUILD_PIPELINE_MAX) -> None:
        if not url.startswith("redis://"):
            raise BulkError(f"rebuild needs a single Redis (redis://...), not {url}")
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 6379
        self.db = int(parsed.path.lstrip("/") or 0)
        self.chunk = chunk
        self.sent = 0
        self._buffer: list[bytes] = []
        self._unanswered = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = hiredis.Reader(encoding="utf-8", replyError=ResponseError)

    async def __aenter__(self) -> "BulkWriter":
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        await self.command("SELECT", self.db)
        await self.flush()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                await self.flush()
        finally:
            if self._writer is not None:
                self._writer.close()
                await self._writer.wait_closed()

    async def command(self, *args: Arg) -> None:
        self._buffer.append(hiredis.pack_command(args))  # type: ignore[arg-type]
        if len(self._buffer) >= self.chunk:
            await self.flush()

    async def flush(self) -> None:
        assert self._writer is not None and self._reader is not None
        if self._buffer:
            self._writer.write(b"".join(self._buffer))
            self._unanswered += len(self._buffer)
            self.sent += len(self._buffer)
            self._buffer = []
            await self._writer.drain()
        while self._unanswered:
            data = await self._reader.read(1 << 16)
            if not data:
                raise BulkError("Redis closed the connection during a bulk write")
            self._parser.feed(data)
            while (reply := self._parser.gets()) is not False:
                self._unanswered -= 1
                if isinstance(reply, ResponseError):
                    raise BulkError(f"Redis refused a bulk command: {reply}")


def flat(pairs: Sequence[tuple[str, Arg]]) -> list[Arg]:
    return [v for pair in pairs for v in pair]
