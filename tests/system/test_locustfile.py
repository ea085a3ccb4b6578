"""bench/http/locustfile.py against a real ``atp serve``: every flow (storefront reads and
holds, orders, pickup steps, returns, alert sign-ups, change-stream listeners) runs headless
for a few seconds without a failure, its requests named in the CSV; loose thresholds exit
0, an impossible one exits 1 naming what it measured. Every process is ended by its PID."""

import asyncio
import csv
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.auth import Scope
from api.keystore import create_key
from catalog.importer import store_locations
from catalog.locations import DAYS, CatalogLocation
from cli import supervisor as serve
from support.servers import free_ports

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "bench" / "http" / "locustfile.py"
LOCUST = Path(sys.executable).with_name("locust")
HOST = "127.0.0.1"
SKUS = [f"LT-{i:03d}" for i in range(20)]
STORES = ["ST-001", "ST-002", "ST-003"]
WAREHOUSE = "WH-1"
ON_HAND = 100_000  # no order, hold or return runs a position short in a few seconds
HOURS = {day: [["00:00", "23:59"]] for day in DAYS}  # a pickup promise exists at any hour
SERVER_RUN_S = 300  # `atp serve --duration`: gone even if this test is killed
LOCUST_WAIT_S = 90.0
WEIGHTS = {
    "STOREFRONT": "2",
    "SHOPPER": "2",
    "ASSOCIATE": "1",
    "RETURNER": "1",
    "ALERT_SIGNUP": "1",
    "CHANGE_LISTENER": "1",
}
USERS = 8  # two of each weight-2 class, one of the rest: associates at distinct stores
# Each flow's requests, by (type, name) in locust's CSV.
FLOWS = {
    "storefront": [
        ("POST", "/v1/availability/query"),
        ("GET", "/v1/availability/{sku}"),
        ("POST", "/v1/reservations"),
        ("POST", "/v1/stock/adjustments"),
    ],
    "shopper": [
        ("GET", "/v1/pickup/promise"),
        ("POST", "/v1/orders"),
        ("POST", "/v1/orders/{order_id}/confirm"),
    ],
    "associate": [
        ("GET", "/v1/stores/{location}/pickups"),
        ("POST", "/v1/orders/{order_id}/pickup/picking"),
        ("POST", "/v1/orders/{order_id}/pickup/picked_up"),
    ],
    "returner": [
        ("POST", "/v1/orders/{order_id}/shipments"),
        ("POST", "/v1/returns"),
        ("POST", "/v1/returns/{id}/refund"),
    ],
    "alert_signup": [
        ("POST", "/v1/alerts/subscriptions"),
        ("GET", "/v1/alerts/subscriptions/{id}"),
    ],
    "change_listener": [("SSE", "/v1/changes"), ("SSE", "/v1/changes event")],
}


def _locations() -> list[CatalogLocation]:
    stores = [
        CatalogLocation(
            store, f"Store {i}", "store", 59.9 + i / 100, 10.7 + i / 100, "UTC", HOURS,
            pickup=True, ship=False, ship_from_store=False, daily_pick_capacity=100_000,
            priority=50,
        )
        for i, store in enumerate(STORES, 1)
    ]  # fmt: skip
    warehouse = CatalogLocation(
        WAREHOUSE, "Warehouse", "warehouse", 59.6, 10.7, "UTC", {}, pickup=False, ship=True,
        ship_from_store=False, daily_pick_capacity=100_000, priority=10,
    )  # fmt: skip
    return [*stores, warehouse]


@pytest.fixture
async def server(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """``atp serve`` on a catalog of 3 pickup stores and a warehouse, every SKU stocked
    everywhere (through the API: durable and journaled); the base URL and an admin key."""
    async with db.acquire() as conn:
        await store_locations(conn, _locations())
        await conn.executemany("INSERT INTO skus (id) VALUES ($1)", [(s,) for s in SKUS])
        _, key = await create_key(conn, [Scope.admin], [], "locust")
    [port] = free_ports(1)
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_PG_DSN": pg_dsn,
        "ATP_RATE_LIMIT_PER_S": "0",
        "ATP_ACCESS_LOG": "off",
        "ATP_STATE_DIR": str(tmp_path / "state"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    with (tmp_path / "server.log").open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "serve", "--port", str(port),
            "--duration", str(SERVER_RUN_S),
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        ready = await asyncio.to_thread(serve.wait_ready, HOST, port, 60)
        assert ready, (tmp_path / "server.log").read_text()[-3000:]
        for _ in range(100):  # the sequencer takes the feed from the journal's end at start
            if await db.fetchval("SELECT count(*) FROM change_cursors"):
                break
            await asyncio.sleep(0.05)
        base = f"http://{HOST}:{port}"
        await _stock(base, key)
        yield base, key
    finally:
        process.terminate()  # atp serve stops its workers by their PIDs
        await asyncio.wait_for(process.wait(), 30)


async def _stock(base: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for sku in SKUS:
            for location in [*STORES, WAREHOUSE]:
                body = {"on_hand": ON_HAND, "reason": "count"}
                r = await client.put(f"/v1/stock/{sku}/{location}", json=body)
                assert r.status_code == 200, r.text


def _locust(base: str, key: str, csv_prefix: Path, seconds: int, *thresholds: str) -> str:
    """Runs the locust file headless; answers its output, asserting nothing yet."""
    env = {
        **os.environ,
        "ATP_BENCH_KEY": key,
        "ATP_BENCH_SKU_PREFIX": "LT-",
        "ATP_BENCH_SKU_DIGITS": "3",
        "ATP_BENCH_SKU_FIRST": "0",
        "ATP_BENCH_SKUS": str(len(SKUS)),
        "ATP_BENCH_LOCATIONS": f"{WAREHOUSE},{STORES[0]}",
        "ATP_BENCH_STORES": ",".join(STORES),
        "ATP_BENCH_CHANGES_STREAM_S": "3",
        **{f"ATP_BENCH_WEIGHT_{name}": weight for name, weight in WEIGHTS.items()},
    }
    done = subprocess.run(
        [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "-u", str(USERS), "-r", str(USERS),
         "-t", f"{seconds}s", "--host", base, "--csv", str(csv_prefix), "--only-summary",
         "--loglevel", "WARNING", *thresholds],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=LOCUST_WAIT_S, check=False,
    )  # fmt: skip
    return f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def _rows(csv_prefix: Path) -> Iterator[dict[str, str]]:
    with Path(f"{csv_prefix}_stats.csv").open() as f:
        yield from csv.DictReader(f)


async def test_every_flow_runs_without_failure_and_thresholds_set_the_exit_code(
    server: tuple[str, str], tmp_path: Path
) -> None:
    base, key = server
    loose = ("--max-p99-ms", "60000", "--max-fail-ratio", "0", "--min-change-events", "1")
    out = await asyncio.to_thread(_locust, base, key, tmp_path / "loose", 6, *loose)
    assert out.startswith("exit 0"), out
    assert "thresholds held" in out, out
    rows = {(r["Type"], r["Name"]): r for r in _rows(tmp_path / "loose")}
    for flow, names in FLOWS.items():
        for name in names:
            assert name in rows, f"{flow}: {name} missing\n{out}"
            assert int(rows[name]["Request Count"]) > 0, (flow, name, out)
    for name, row in rows.items():  # expected refusals are counted apart, as successes
        assert row["Failure Count"] == "0", (name, out)
    impossible = ("--max-p99-ms", "0.001", "--min-rps", "1e9")
    out = await asyncio.to_thread(_locust, base, key, tmp_path / "strict", 3, *impossible)
    assert out.startswith("exit 1"), out
    assert "THRESHOLD MISSED all HTTP requests: p99 ms" in out, out
    assert "THRESHOLD MISSED all HTTP requests: requests/s" in out, out
    # Listeners dropped mid-stream as locust stops: the server lets them go without an error.
    log = (tmp_path / "server.log").read_text()
    assert "Exception in ASGI application" not in log, log[-3000:]
