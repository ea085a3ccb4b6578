"""``atp demo``: load a small demo retailer into Redis and walk one order through the engine."""

import argparse
import asyncio
import time
from datetime import date, timedelta

from atp.model import Channel
from catalog.demo_retailer import SKUS_MAX, SKUS_MIN, Catalog, build_catalog
from cli.main import redis_url_option
from engine.local import Engine
from reservations.model import Line

DEMO_SKUS = 5_000
SEED_CONCURRENCY = 64
# The one demo chain (catalog.demo_retailer): `atp serve --demo` serves the same ids.
WAREHOUSE = "WH-BERGER"
STORE = "ST-001"
GROUP = "oslo-stores"
SHIP_NETWORK = "ship-network"


def demo_skus(count: int = DEMO_SKUS) -> list[str]:
    return [f"SKU-{rank:06d}" for rank in range(1, count + 1)]


def groups(catalog: Catalog) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for location in catalog.locations:
        for group in location.groups:
            members.setdefault(group, []).append(location.id)
    return members


async def seed(engine: Engine, sku_count: int = DEMO_SKUS) -> int:
    """The demo chain's stock into Redis alone (no PostgreSQL: this command shows the
    engine). Counts, so running it again sets the same numbers."""
    catalog = build_catalog(skus=sku_count)
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def count(sku: str, location: str, on_hand: int) -> None:
        async with gate:
            await engine.stock.set_on_hand(sku, location, on_hand, reason="demo_seed")

    async def safety(sku: str, location: str, units: int) -> None:
        async with gate:
            await engine.stock.set_safety(sku, location, units)

    await asyncio.gather(*(count(*row) for row in catalog.stock))
    await asyncio.gather(*(safety(*row) for row in catalog.safety))
    for name, members in groups(catalog).items():
        await engine.availability.define_group(name, members)
    first = demo_skus(1)[0]
    await engine.stock.add_incoming(
        first, WAREHOUSE, "PO-DEMO-1", 40, date.today() + timedelta(days=5)
    )
    return len(catalog.stock)


async def walkthrough(engine: Engine) -> None:
    sku = demo_skus(1)[0]
    positions, total = await engine.availability.group(sku, GROUP, Channel.online)
    print(f"\n{sku} in {GROUP} (online ATP {total}):")
    for p in positions[:4]:
        print(
            f"  {p.location:10} on_hand={p.on_hand:4} reserved={p.reserved:3} safety={p.safety:2} "
            f"atp={p.atp(Channel.online)}"
        )
    big = total + 10
    promised = await engine.availability.promise_in_group(
        sku, big, SHIP_NETWORK, Channel.online, date.today()
    )
    print(f"earliest date {big} units can ship from the {SHIP_NETWORK}: {promised}")
    order_id = f"demo-{int(time.time())}"
    lines = [Line(sku, WAREHOUSE, 2), Line(demo_skus(2)[1], WAREHOUSE, 1)]
    held = await engine.reservations.reserve(order_id, "online", lines, ttl_s=300)
    print(
        f"\nreserve {order_id}: {held.result.value}"
        + (f", shortfalls {held.shortfalls}" if held.shortfalls else "")
    )
    if held.ok:
        committed = await engine.reservations.commit(order_id)
        shipped = await engine.reservations.fulfill(order_id)
        print(
            f"commit: {committed.result.value}; fulfill: {shipped.result.value}; "
            f"state now {shipped.reservation.state.value if shipped.reservation else '?'}"
        )


async def run(url: str, sku_count: int) -> None:
    engine = Engine.connect(url)
    try:
        started = time.perf_counter()
        written = await seed(engine, sku_count)
        print(
            f"demo chain loaded into {url}: 2 warehouses, 20 stores, {sku_count} SKUs,"
            f" {written} stocked positions in {time.perf_counter() - started:.1f} s"
        )
        await walkthrough(engine)
    finally:
        await engine.close()
    print(f"""
What to try next:
  .venv/bin/python -m bench.engine --quick      # engine micro-benchmark
  .venv/bin/python                             # then, for example:
    >>> import asyncio; from engine.local import Engine
    >>> e = Engine.connect("{url}")
    >>> asyncio.run(e.availability.position("SKU-000001", "ST-001"))
  ./scripts/run-demo.sh                         # the same chain over HTTP, with PostgreSQL
  ./scripts/test.sh                             # the whole test suite""")


def _command(args: argparse.Namespace) -> int:
    asyncio.run(run(args.redis_url, args.skus))
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    demo = subparsers.add_parser("demo", help="load the demo chain and walk one order through")
    redis_url_option(demo)
    demo.add_argument(
        "--skus",
        type=int,
        default=DEMO_SKUS,
        help=f"SKUs in the chain, {SKUS_MIN:,} to {SKUS_MAX:,} (default {DEMO_SKUS:,})",
    )
    demo.set_defaults(handler=_command)
