"""``atp serve --demo``: the demo retailer and a key per client kind.

With PostgreSQL (ATP_PG_DSN) the demo chain comes from journal.demo: catalogue in
PostgreSQL, stock written durably. Without it (development), atp.demo's Redis-only chain.
"""

from dataclasses import dataclass

from api.auth import Scope, create_key
from atp import demo
from atp.engine import Engine
from journal import demo as durable_demo


@dataclass(frozen=True)
class DemoChain:
    store: str  # the demo register's store
    sku: str
    group: str


REDIS_ONLY = DemoChain(demo.STORES[0], demo.demo_skus(1)[0], next(iter(demo.GROUPS)))
DURABLE = DemoChain("ST-001", "SKU-000001", "oslo-stores")  # rank 1: the top seller


def client_kinds(store: str) -> dict[str, tuple[list[Scope], list[str]]]:
    return {
        "storefront": ([Scope.availability_read, Scope.reservations_write], []),
        f"pos ({store})": (
            [Scope.availability_read, Scope.stock_write, Scope.reservations_write],
            [store],
        ),
        "oms": ([Scope.availability_read, Scope.reservations_write, Scope.stock_write], []),
        "admin": ([Scope.admin], []),
    }


async def seed(engine: Engine, redis_url: str, pg_dsn: str | None) -> DemoChain:
    """Idempotent: counts are set, not added."""
    if pg_dsn is None:
        await demo.seed(engine)
        return REDIS_ONLY
    await durable_demo.seed_demo(pg_dsn, redis_url)
    return DURABLE


async def keys(engine: Engine, chain: DemoChain) -> dict[str, str]:
    created = {}
    for kind, (scopes, locations) in client_kinds(chain.store).items():
        _, key = await create_key(engine.redis, scopes, locations, name=f"demo {kind}")
        created[kind] = key
    return created


def example(url: str, chain: DemoChain) -> str:
    return f"{url}/v1/availability/{chain.sku}?group={chain.group}"
