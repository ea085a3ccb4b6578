"""The demo chain: realistic shape, deterministic, loads idempotently, one chain behind
every example, and a restarted demo keeps its state unless reset."""

import json
import shlex
from urllib.parse import urlparse

import pytest

from catalog.demo_retailer import FAST_MOVERS, build_catalog, ensure_demo, seed_demo
from durability.db import create_pool
from engine.durable import DurableEngine
from engine.local import Engine
from support.journal import fresh_database


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
    dsn = await fresh_database(pg_dsn, f"{urlparse(pg_dsn).path.lstrip('/')}_seed")
    first = await seed_demo(dsn, jredis_url, stores=10, skus=5_000)
    assert first.locations == 12 and first.stock.rows_changed > 10_000
    again = await seed_demo(dsn, jredis_url, stores=10, skus=5_000)
    assert again.stock.rows_changed == 0 and again.safety.rows_changed == 0


def test_one_demo_chain_behind_every_example() -> None:
    """`atp demo`, `atp serve --demo` (run-demo.sh) and the examples use the same ids."""
    from cli import demo as engine_demo
    from cli.demo_serve import DEMO

    catalog = build_catalog()
    ids = {loc.id for loc in catalog.locations}
    assert {DEMO.store, DEMO.warehouse, engine_demo.STORE, engine_demo.WAREHOUSE} <= ids
    assert DEMO.group == engine_demo.GROUP
    assert any(DEMO.group in loc.groups for loc in catalog.locations)
    stock = {(sku, loc): qty for sku, loc, qty in catalog.stock}
    safety = {(sku, loc): qty for sku, loc, qty in catalog.safety}
    for sku in engine_demo.demo_skus(2):  # the walkthrough's and the banner's hold lines
        assert stock[(sku, DEMO.warehouse)] - safety.get((sku, DEMO.warehouse), 0) > 10
    # The banner's pickup order: the store offers pickup and holds the SKU.
    store = next(loc for loc in catalog.locations if loc.id == DEMO.store)
    assert store.pickup and store.opening_hours
    assert stock[(DEMO.sku, DEMO.store)] - safety.get((DEMO.sku, DEMO.store), 0) >= 1


def test_the_banner_commands_work_as_pasted() -> None:
    from cli.demo_serve import DEMO, STOREFRONT, Prepared, banner

    keys = {
        STOREFRONT: "atp_abc_secret1",
        "pos (ST-001)": "atp_ghi_secret3",
        "oms": "atp_jkl_secret4",
        "admin": "atp_d",
    }
    lines = banner("http://127.0.0.1:8000", Prepared(DEMO, keys, loaded=False))
    text = "\n".join(lines)
    assert "<" not in text and "kept" in text and "--reset" in text
    curls = [shlex.split(line.split(None, 1)[1]) for line in lines if "curl" in line]
    for words in curls[:2]:
        assert words[0] == "curl" and "Authorization: Bearer atp_abc_secret1" in words
    assert curls[0][-1] == f"http://127.0.0.1:8000/v1/availability/{DEMO.sku}?group={DEMO.group}"
    hold = json.loads(curls[1][curls[1].index("-d") + 1])
    assert hold["lines"] == [{"sku": DEMO.sku, "location": DEMO.warehouse, "qty": 1}]
    assert "Authorization: Bearer atp_ghi_secret3" in curls[2]  # the register's own key
    assert curls[2][-1] == f"http://127.0.0.1:8000/v1/pos/{DEMO.register}/events"
    sale = json.loads(curls[2][curls[2].index("-d") + 1])["events"][0]
    assert (sale["sku"], sale["location"]) == (DEMO.sku, DEMO.store)
    follow = curls[3]  # the change stream, unbuffered, with a key that reads availability
    assert "-N" in follow and "Authorization: Bearer atp_abc_secret1" in follow
    assert follow[-1] == f"http://127.0.0.1:8000/v1/changes?sku={DEMO.sku}"
    order_words, pickups = curls[4], curls[5]
    assert "Authorization: Bearer atp_jkl_secret4" in order_words  # oms places orders
    order = json.loads(order_words[order_words.index("-d") + 1])
    assert (order["location"], order["lines"][0]["sku"]) == (DEMO.store, DEMO.sku)
    assert pickups[-1] == f"http://127.0.0.1:8000/v1/stores/{DEMO.store}/pickups"
    assert "Authorization: Bearer atp_ghi_secret3" in pickups
    loaded = banner("http://h:1", Prepared(DEMO, keys, loaded=True))
    assert "loaded the demo chain" in loaded[0]


async def _on_hand(redis_url: str, sku: str, location: str) -> int:
    engine = Engine.connect(redis_url)
    try:
        return (await engine.availability.position(sku, location)).on_hand
    finally:
        await engine.close()


@pytest.mark.slow
async def test_a_restart_keeps_the_demo_state_unless_reset(pg_dsn: str, jredis_url: str) -> None:
    dsn = await fresh_database(pg_dsn, f"{urlparse(pg_dsn).path.lstrip('/')}_restart")
    first = await ensure_demo(dsn, jredis_url)
    assert first is not None and first.stock.rows_changed > 10_000
    seeded = await _on_hand(jredis_url, "SKU-000001", "ST-001")
    pool = await create_pool(dsn)
    engine = await DurableEngine.open(jredis_url, pool)
    try:
        sold = await engine.stock.adjust("SKU-000001", "ST-001", -3, "sale")
        assert sold.ok
    finally:
        await engine.close()
        await pool.close()
    assert await ensure_demo(dsn, jredis_url) is None  # a restart: the sale stays
    assert await _on_hand(jredis_url, "SKU-000001", "ST-001") == seeded - 3
    again = await ensure_demo(dsn, jredis_url, reset=True)
    assert again is not None and again.stock.rows_changed == 1
    assert await _on_hand(jredis_url, "SKU-000001", "ST-001") == seeded
