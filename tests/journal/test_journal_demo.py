"""The demo chain: realistic shape, deterministic, and loads idempotently."""

import pytest
from jsupport import fresh_database

from journal.demo import FAST_MOVERS, build_catalog, seed_demo


def test_the_demo_chain_has_a_realistic_shape() -> None:
    catalog = build_catalog(stores=12, skus=5_000, seed=7)
    kinds = [loc.kind for loc in catalog.locations]
    assert kinds.count("warehouse") == 2 and kinds.count("store") == 12
    for loc in catalog.locations:  # the Oslo area
        assert 59.3 < loc.latitude < 60.3 and 10.1 < loc.longitude < 11.3
        assert loc.time_zone == "Europe/Oslo" and loc.opening_hours
    per_sku: dict[str, int] = {}
    for sku, _, qty in catalog.stock:
        per_sku[sku] = per_sku.get(sku, 0) + qty
    head = sum(per_sku.get(f"SKU-{r:06d}", 0) for r in range(1, 51))
    tail = sum(per_sku.get(f"SKU-{r:06d}", 0) for r in range(4_951, 5_001))
    assert head > 5 * tail  # skewed: fast movers carry far more stock
    assert {sku for sku, _, _ in catalog.safety} == {
        f"SKU-{r:06d}" for r in range(1, FAST_MOVERS + 1)
    }
    assert build_catalog(stores=12, skus=5_000, seed=7) == catalog


def test_sizes_outside_the_demo_range_are_refused() -> None:
    with pytest.raises(ValueError, match="stores"):
        build_catalog(stores=3)


@pytest.mark.slow
async def test_seed_demo_loads_once(pg_dsn: str, jredis_url: str) -> None:
    dsn = await fresh_database(pg_dsn, "atp_j_seed")
    first = await seed_demo(dsn, jredis_url, stores=10, skus=5_000)
    assert first.locations == 12 and first.stock.rows_changed > 10_000
    again = await seed_demo(dsn, jredis_url, stores=10, skus=5_000)
    assert again.stock.rows_changed == 0 and again.safety.rows_changed == 0
