"""One attempt against receivers that misbehave on the wire: a huge answer is read only up
to its bound, a silent one times out, a closed connection is a failure, answers delimited
by length, chunks or the close are all read, and a kept-alive connection is reused."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from webhooks import sender
from webhooks.claims import Claimed
from webhooks.endpoints import new_secret
from webhooks.limits import ERROR_TEXT_MAX, RESPONSE_BYTES_MAX
from webhooks.transport import LeanTransport

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(serve: Serve) -> AsyncIterator[tuple[int, list[int]]]:
    """A raw TCP server on an ephemeral port; yields its port and the connections' count."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up
        finally:
            writer.close()

    running = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = running.sockets[0].getsockname()[1]
    try:
        yield port, accepted
    finally:
        running.close()
        await running.wait_closed()


async def _request(reader: asyncio.StreamReader) -> bytes:
    """The next request; IncompleteReadError once the client hangs up."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head + await reader.readexactly(length)


def _claimed(port: int) -> Claimed:
    return Claimed(
        1, "wh_x", "msg_c1", '{"type":"x"}', 0, 0, f"http://127.0.0.1:{port}/h", new_secret()
    )


async def _attempt(port: int, timeout_s: float = 5.0) -> sender.Attempt:
    http = sender.client()
    try:
        return await sender.attempt(http, _claimed(port), True, 1, timeout_s)
    finally:
        await http.aclose()


async def test_a_huge_answer_is_read_only_up_to_the_bound() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(b"HTTP/1.1 500 Oops\r\ncontent-length: 50000000\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(50_000):
                writer.write(b"x" * 1000)
                await writer.drain()

    async with server(huge) as (port, _):
        transport = LeanTransport()
        async with httpx.AsyncClient(transport=transport) as http:
            response = await http.post(f"http://127.0.0.1:{port}/h", content=b"{}")
        assert response.status_code == 500 and len(response.content) == RESPONSE_BYTES_MAX
        got = await _attempt(port)
    assert got.status == 500 and len(got.error) <= ERROR_TEXT_MAX + len("HTTP 500: ")


async def test_a_silent_receiver_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        await reader.read()  # answers nothing until the client gives up

    async with server(silent) as (port, _):
        got = await _attempt(port, timeout_s=0.2)
    assert got.status is None and "no answer" in got.error


async def test_a_connection_closed_before_an_answer_is_a_failure() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)

    async with server(hang_up) as (port, _):
        got = await _attempt(port)
    assert got.status is None and "closed" in got.error


async def test_answers_by_length_chunks_and_close_and_keep_alive_reuse() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the close",
    ]

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while answers:
            await _request(reader)
            answer = answers.pop(0)
            writer.write(answer)
            await writer.drain()
            if b"close" in answer:
                return

    async with (
        server(keep_alive) as (port, accepted),
        httpx.AsyncClient(transport=LeanTransport()) as http,
    ):
        got = [await http.post(f"http://127.0.0.1:{port}/h", content=b"{}") for _ in range(4)]
    assert [r.status_code for r in got] == [200, 204, 503, 200]
    assert [r.content for r in got] == [b"ok", b"", b"busy", b"until the close"]
    assert len(accepted) == 1  # one connection, kept alive across the four
