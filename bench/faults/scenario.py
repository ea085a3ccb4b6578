"""One fault run under load, shared by tests/system/test_fault_under_load.py (bounded) and
``python -m bench.faults`` (longer): a fresh database with the catalog and the keys,
``atp serve --workers 2 --journal`` reaching Redis through the fault proxy, the load mix,
every fault in turn, Redis lost once more after the load, then the checks.

The caller starts the private Redis and PostgreSQL (tests/support/servers.py) and ends
them; everything started here is ended here, by PID.
"""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from api.auth import Scope
from api.keystore import create_key
from bench.faults import clients
from bench.faults.checks import ACK_DEADLINE_S, Verdict, check
from bench.faults.faults import Faulted, Plan, Recovery, Server, every_fault, kill_redis
from bench.faults.load import DEVICES, SEED, SKUS, STORE, WAREHOUSE, Tally, Write, send
from bench.faults.proxy import FaultyProxy
from bench.faults.serve import HOST, atp_serve, wait_started
from catalog.importer import store_locations
from catalog.locations import DAYS, PICK_CAPACITY_MAX, CatalogLocation
from durability.db import create_database
from durability.migrate import migrate

REQUEST_TIMEOUT_S = 10.0
OSLO = (59.91, 10.75)  # where both locations stand (and where shipped orders go)
OPEN_ALL_DAY = {day: [["00:00", "23:59"]] for day in DAYS}


@dataclass
class Outcome:
    tally: Tally
    verdict: Verdict
    recoveries: list[Recovery]
    loaded: int  # writes acknowledged under load
    load_s: float
    dropped: int  # connections the proxy dropped


def _location(id_: str, kind: str, pickup: bool) -> CatalogLocation:
    return CatalogLocation(
        id=id_,
        name=id_,
        kind=kind,
        latitude=OSLO[0],
        longitude=OSLO[1],
        time_zone="UTC",
        opening_hours=OPEN_ALL_DAY if pickup else {},
        pickup=pickup,
        ship=not pickup,
        ship_from_store=False,
        daily_pick_capacity=PICK_CAPACITY_MAX,
        priority=10,
    )


async def prepare(dsn: str) -> dict[str, str]:
    """A migrated database with the catalog (a warehouse that ships, a store that hands
    over pickups, the SKUs) and the run's keys."""
    await create_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        locations = [_location(WAREHOUSE, "warehouse", False), _location(STORE, "store", True)]
        await store_locations(conn, locations)
        await conn.executemany("INSERT INTO skus (id) VALUES ($1)", [(s,) for s in SKUS])
        writes = [Scope.availability_read, Scope.stock_write, Scope.reservations_write]
        orders = [Scope.orders_read, Scope.orders_write]
        keys = {
            "admin": (await create_key(conn, [Scope.admin], [], "admin"))[1],
            "oms": (await create_key(conn, [*writes, *orders], [], "oms"))[1],
            "register": (await create_key(conn, writes[:2], [STORE], "till"))[1],
            "storefront": (await create_key(conn, [Scope.availability_read], [], "web"))[1],
        }
    finally:
        await conn.close()
    return keys


async def seed(client: httpx.AsyncClient, tally: Tally) -> None:
    admin = tally.keys["admin"]
    for device in DEVICES:
        w = Write("PUT", f"/v1/pos/devices/{device}", admin, {"location": STORE})
        assert (await send(client, tally, w)).status_code in (200, 201)
    for sku in SKUS:
        for location in (WAREHOUSE, STORE):
            body = {"sku": sku, "location": location, "delta": SEED, "reason": "receipt"}
            w = Write("POST", "/v1/stock/adjustments", admin, body, f"seed-{sku}-{location}")
            r = await send(client, tally, w)
            assert r.status_code == 200, r.text


async def run(
    redis: Server, redis_port: int, postgres: Server, dsn: str, port: int, tmp: Path, plan: Plan
) -> Outcome:
    keys = await prepare(dsn)
    tally = Tally(keys)
    base = f"http://{HOST}:{port}"
    proxy = FaultyProxy(redis_port).start()
    try:
        with atp_serve(tmp, proxy.url, dsn, port) as log:
            timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
            async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
                await wait_started(base, log)
                await seed(client, tally)
                faulted = Faulted(redis, postgres, proxy, log, base)
                began = time.monotonic()
                load = asyncio.gather(*clients.mix(client, tally, plan.clients))
                try:
                    await every_fault(faulted, tally, plan)
                finally:
                    tally.stop.set()
                    tally.deadline = time.monotonic() + ACK_DEADLINE_S
                    await load
                load_s = time.monotonic() - began
                loaded = len(tally.writes)
                # Lost once more, after the load: every position now comes from PostgreSQL.
                await kill_redis(faulted, tally, plan, "redis (after the load)")
                verdict = await check(client, tally, dsn)
    finally:
        proxy.stop()
    return Outcome(tally, verdict, faulted.recoveries, loaded, load_s, proxy.dropped)
