"""A TCP proxy between the engine and Redis that, when told, delays every chunk and drops
connections at random (``tc netem`` is not available in this kernel).

It runs its own event loop in a thread, so the load's clients in the caller's loop do not
add to the delay it injects. A dropped connection is closed on both sides at once, which
can cut a script call after Redis ran it and before its reply: the engine's retries must
not apply it twice.
"""

import asyncio
import contextlib
import random
import threading
from dataclasses import dataclass

HOST = "127.0.0.1"
CHUNK_BYTES_MAX = 64 * 1024
START_WAIT_S = 5.0
STOP_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Faults:
    """What the proxy does to traffic: ``delay_s`` before each chunk it forwards (each
    way), ``drop_per_chunk`` the chance a chunk closes its connection instead."""

    delay_s: float = 0.0
    drop_per_chunk: float = 0.0


NONE = Faults()


class FaultyProxy:
    """Listens on a free loopback port and forwards every connection to ``target_port``."""

    def __init__(self, target_port: int, seed: int = 17) -> None:
        self.target_port = target_port
        self.port = 0
        self.faults = NONE  # replaced whole, so a pump never sees half a change
        self.dropped = 0
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def start(self) -> "FaultyProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(START_WAIT_S)
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(STOP_WAIT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_WAIT_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = asyncio.open_connection(HOST, self.target_port)
            up_reader, up_writer = await asyncio.wait_for(upstream, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):  # Redis is down: so is the proxy's far side
            writer.close()
            return
        pair = (writer, up_writer)
        self._writers.update(pair)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, pair), self._pump(up_reader, writer, pair)
            )
        finally:
            for w in pair:
                w.close()
                self._writers.discard(w)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        """Forwards one direction until either side closes; a drop closes both."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(CHUNK_BYTES_MAX):
                faults = self.faults
                if faults.delay_s:
                    await asyncio.sleep(faults.delay_s)
                if faults.drop_per_chunk and self._rng.random() < faults.drop_per_chunk:
                    self.dropped += 1
                    break
                writer.write(chunk)
                await writer.drain()
        for w in pair:  # the other direction's read then ends too
            w.close()
