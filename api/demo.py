"""``atp serve --demo``: the demo retailer (atp.demo's seeder) and a key per client kind."""

from api.auth import Scope, create_key
from atp import demo
from atp.engine import Engine

STORE = demo.STORES[0]  # the demo register's store
CLIENT_KINDS: dict[str, tuple[list[Scope], list[str]]] = {
    "storefront": ([Scope.availability_read, Scope.reservations_write], []),
    f"pos ({STORE})": (
        [Scope.availability_read, Scope.stock_write, Scope.reservations_write],
        [STORE],
    ),
    "oms": ([Scope.availability_read, Scope.reservations_write, Scope.stock_write], []),
    "admin": ([Scope.admin], []),
}


async def seed(engine: Engine) -> None:
    """Idempotent: counts are set, not added."""
    await demo.seed(engine)


async def keys(engine: Engine) -> dict[str, str]:
    created = {}
    for kind, (scopes, locations) in CLIENT_KINDS.items():
        _, key = await create_key(engine.redis, scopes, locations, name=f"demo {kind}")
        created[kind] = key
    return created


def example(url: str) -> str:
    sku, group = demo.demo_skus(1)[0], next(iter(demo.GROUPS))
    return f"{url}/v1/availability/{sku}?group={group}"
