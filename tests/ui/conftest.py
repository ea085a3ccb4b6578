"""The page in a real browser: the engine served by uvicorn in a child process (the page's
app, ui.served:serve_app) on a loopback port of 7500-7549, the world seeded through its
API, and headless Chromium from Debian driven by Playwright (never a downloaded browser).

Screenshots go to ATP_UI_SCREENSHOTS if set (docs/ui/ for the README's), else to the
test's temporary directory."""

import asyncio
import os
import random
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from cli import supervisor
from support.postgres import empty_tables
from support.servers import port_is_free
from support.ui_world import STOCK, keys, place_order, seed_catalog

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PORT_MIN, PORT_MAX = 7500, 7549
READY_TIMEOUT_S = 60.0
FEED_READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 20.0


@dataclass
class Site:
    url: str
    keys: dict[str, str]
    client: httpx.AsyncClient  # the API, as admin
    shots: Path

    def shot(self, name: str) -> Path:
        return self.shots / f"{name}.png"


def _port() -> int:
    ports = list(range(PORT_MIN, PORT_MAX + 1))
    random.shuffle(ports)
    return next(p for p in ports if port_is_free(p))


async def _start(port: int, redis_url: str, pg_dsn: str, log: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_PG_DSN": pg_dsn,
        "ATP_AUTH_CACHE_TTL_S": "0",
        "ATP_WEBHOOKS": "off",
        "PROMETHEUS_MULTIPROC_DIR": str(log.parent / "prometheus"),
    }
    (log.parent / "prometheus").mkdir(exist_ok=True)
    with log.open("w") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "ui.served:serve_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip


async def _seed(client: httpx.AsyncClient, admin: str) -> None:
    auth = {"Authorization": f"Bearer {admin}"}
    for sku, location, qty in STOCK:
        body = {"sku": sku, "location": location, "delta": qty, "reason": "receipt"}
        r = await client.post("/v1/stock/adjustments", json=body, headers=auth)
        assert r.status_code == 200, r.text
    await place_order(client, admin)
    line = {"sku": "A", "location": "S2", "qty": 1}
    hold = {"id": "cart-77", "channel": "online", "lines": [line]}
    r = await client.post("/v1/reservations", json=hold, headers=auth)
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
async def site(
    local_redis: str, pool: asyncpg.Pool, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Site]:
    redis.Redis.from_url(local_redis).flushdb()
    await empty_tables(pool)
    await seed_catalog(pool)
    made = await keys(pool)
    work = tmp_path_factory.mktemp("ui")
    shots = Path(os.environ.get("ATP_UI_SCREENSHOTS") or work / "screenshots")
    os.makedirs(shots, exist_ok=True)
    port = _port()
    process = await _start(port, local_redis, pg_dsn, work / "server.log")
    try:
        ready = await asyncio.to_thread(supervisor.wait_ready, "127.0.0.1", port, READY_TIMEOUT_S)
        assert ready, (work / "server.log").read_text()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FEED_READY_TIMEOUT_S
        while not await pool.fetchval("SELECT count(*) FROM change_cursors"):
            assert loop.time() < deadline, "the changes feed never started"
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await _seed(client, made["admin"])
            yield Site(url, made, client, shots)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()
