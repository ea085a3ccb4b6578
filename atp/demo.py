"""``atp demo``: load a small demo retailer into Redis and walk one order through the engine."""

import argparse
import asyncio
import os
import random
import time
from datetime import date, timedelta

from atp.engine import Engine
from atp.model import Channel
from reservations.model import Line

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEMO_SKUS = 3_000
WAREHOUSES = ["WH-OSLO", "WH-BERGEN"]
STORES = [f"ST-OSL-{i:02d}" for i in range(1, 7)] + ["ST-BGO-01", "ST-BGO-02"]
GROUPS = {"ship-network": WAREHOUSES, "stores-oslo": STORES[:6], "stores-bergen": STORES[6:]}
SEED_CONCURRENCY = 64


def demo_skus(count: int = DEMO_SKUS) -> list[str]:
    return [f"SKU-{i:05d}" for i in range(count)]


async def seed(engine: Engine, sku_count: int = DEMO_SKUS, rng_seed: int = 1) -> int:
    """Counts (idempotent: re-running sets the same numbers). Stock is skewed: a few fast
    movers carry deep stock and safety buffers, most SKUs have a handful per store."""
    rng = random.Random(rng_seed)
    writes = []
    for n, sku in enumerate(demo_skus(sku_count)):
        fast = n < sku_count // 50
        for location in WAREHOUSES:
            writes.append(
                (sku, location, int(rng.paretovariate(1.2) * (60 if fast else 8)), 5 if fast else 0)
            )
        for location in STORES:
            stocked = fast or rng.random() < 0.4
            on_hand = int(rng.paretovariate(1.5) * (12 if fast else 2)) if stocked else 0
            writes.append((sku, location, on_hand, 2 if fast else 0))
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def write(sku: str, location: str, on_hand: int, safety: int) -> None:
        async with gate:
            await engine.stock.set_on_hand(sku, location, on_hand, reason="demo_seed")
            if safety:
                await engine.stock.set_safety(sku, location, safety)

    await asyncio.gather(*(write(*w) for w in writes))
    for name, members in GROUPS.items():
        await engine.availability.define_group(name, members)
    first = demo_skus(1)[0]
    await engine.stock.add_incoming(
        first, "WH-OSLO", "PO-DEMO-1", 40, date.today() + timedelta(days=5)
    )
    return len(writes)


async def walkthrough(engine: Engine) -> None:
    sku = demo_skus(1)[0]
    positions, total = await engine.availability.group(sku, "stores-oslo", Channel.online)
    print(f"\n{sku} in stores-oslo (online ATP {total}):")
    for p in positions[:4]:
        print(
            f"  {p.location:10} on_hand={p.on_hand:4} reserved={p.reserved:3} safety={p.safety:2} "
            f"atp={p.atp(Channel.online)}"
        )
    big = total + 10
    promised = await engine.availability.promise_in_group(
        sku, big, "ship-network", Channel.online, date.today()
    )
    print(f"earliest date {big} units can ship from the ship-network: {promised}")
    order_id = f"demo-{int(time.time())}"
    lines = [Line(sku, "WH-OSLO", 2), Line(demo_skus(2)[1], "WH-OSLO", 1)]
    held = await engine.reservations.reserve(order_id, "online", lines, ttl_s=300)
    print(
        f"\nreserve {order_id}: {held.result.value}"
        + (f", shortfalls {held.shortfalls}" if held.shortfalls else "")
    )
    if held.ok:
        committed = await engine.reservations.commit(order_id)
        shipped = await engine.reservations.fulfill(order_id)
        print(
            f"commit: {committed.result.value}; fulfil: {shipped.result.value}; "
            f"state now {shipped.reservation.state.value if shipped.reservation else '?'}"
        )


async def run(url: str, sku_count: int) -> None:
    engine = Engine.connect(url)
    try:
        started = time.perf_counter()
        written = await seed(engine, sku_count)
        print(
            f"demo retailer loaded into {url}: {len(WAREHOUSES)} warehouses, {len(STORES)} stores, "
            f"{sku_count} SKUs, {written} positions in {time.perf_counter() - started:.1f} s"
        )
        await walkthrough(engine)
    finally:
        await engine.close()
    print(f"""
What to try next:
  .venv/bin/python -m bench.engine --quick      # engine micro-benchmark
  .venv/bin/python                             # then, for example:
    >>> import asyncio; from atp.engine import Engine
    >>> e = Engine.connect("{url}")
    >>> asyncio.run(e.availability.position("SKU-00001", "ST-OSL-01"))
  ./scripts/test.sh                             # the whole test suite""")


def _command(args: argparse.Namespace) -> int:
    asyncio.run(run(args.redis_url, args.skus))
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    demo = subparsers.add_parser("demo", help="load the demo retailer and walk one order through")
    demo.add_argument("--redis-url", default=os.environ.get("ATP_REDIS_URL", DEFAULT_REDIS_URL))
    demo.add_argument("--skus", type=int, default=DEMO_SKUS)
    demo.set_defaults(handler=_command)
