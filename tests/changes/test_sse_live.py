"""GET /v1/changes on a real server (uvicorn, uvloop): a change reaches an open stream
while it is open, idle streams get heartbeats, and a client that reconnects with
Last-Event-ID gets exactly what it missed, in order."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.auth import Scope
from api.keystore import create_key
from cli import supervisor as serve
from support.servers import free_ports

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def server(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    [port] = free_ports(1)
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_PG_DSN": pg_dsn,
        "ATP_SSE_HEARTBEAT_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    async with db.acquire() as conn:
        _, key = await create_key(conn, [Scope.admin], [], "live")
    with (tmp_path / "server.log").open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--duration", "120",
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        assert await asyncio.to_thread(serve.wait_ready, "127.0.0.1", port, 60), "no server"
        for _ in range(100):  # the sequencer takes the feed from the journal's end at start
            if await db.fetchval("SELECT count(*) FROM change_cursors"):
                break
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", key
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


async def _receipt(client: httpx.AsyncClient, sku: str) -> None:
    body = {"sku": sku, "location": "S1", "delta": 1, "reason": "receipt"}
    r = await client.post("/v1/stock/adjustments", json=body)
    assert r.status_code == 200, r.text


async def _events(lines: AsyncIterator[str], count: int) -> tuple[list[dict[str, object]], int]:
    """The next ``count`` events (id, event, data) and the heartbeats seen meanwhile."""
    events: list[dict[str, object]] = []
    pings, current = 0, dict[str, object]()
    async for line in lines:
        if line.startswith(": ping"):
            pings += 1
        elif line.startswith(("id: ", "event: ")):
            name, _, value = line.partition(": ")
            current[name] = value
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif not line and current:
            events.append(current)
            current = {}
            if len(events) == count:
                break
    return events, pings


async def test_changes_arrive_live_and_a_reconnect_gets_what_it_missed(
    server: tuple[str, str],
) -> None:
    url, key = server
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        query = "/v1/changes?sku=A&types=adjusted"
        async with client.stream("GET", query) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            await asyncio.sleep(0.5)  # idle: heartbeats only
            await _receipt(client, "B")  # not this stream's SKU
            await _receipt(client, "A")
            [first], pings = await asyncio.wait_for(_events(lines, 1), 10)
        assert pings >= 1
        assert first["event"] == "adjusted" and first["data"]["on_hand"] == 1  # type: ignore[index]
        for _ in range(3):
            await _receipt(client, "A")  # while disconnected
        resume = {"Last-Event-ID": str(first["id"])}
        async with client.stream("GET", query, headers=resume) as stream:
            missed, _ = await asyncio.wait_for(_events(stream.aiter_lines(), 3), 10)
    assert [e["data"]["on_hand"] for e in missed] == [2, 3, 4]  # type: ignore[index]
    ids = [int(str(e["id"])) for e in [first, *missed]]
    assert ids == sorted(ids) and len(set(ids)) == 4
