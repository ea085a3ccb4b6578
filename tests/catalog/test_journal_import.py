"""Bulk imports report each bad row (line, field, reason), load the rest, and re-run
without changing anything."""

# ruff: noqa: E501  (CSV rows are as long as retailers write them)

import io
from pathlib import Path

import asyncpg
import pytest

from atp.redis_io import RedisIO
from catalog.csvrows import FileRefused, Progress
from catalog.importer import import_locations, import_quantities
from durability.verify import verify
from engine.durable import DurableEngine

LOCATIONS = """id,name,kind,latitude,longitude,time_zone,opening_hours,pickup,ship,ship_from_store,daily_pick_capacity,priority,groups
WH-1,Berger,warehouse,59.601,10.726,Europe/Oslo,mon-sun 06:00-22:00,no,yes,no,20000,10,ship-network
ST-1,Store Oslo S,store,59.9111,10.7528,Europe/Oslo,mon-fri 09:00-20:00; sat 10:00-18:00,yes,no,yes,300,50,oslo-stores;ship-network
ST-2,Store Storo,store,59.9464,10.7772,Europe/Oslo,,yes,no,no,200,51,oslo-stores
ST-3,Bad kind,shop,59.9,10.7,Europe/Oslo,,yes,no,no,200,51,
ST-4,Bad zone,store,59.9,10.7,Europe/Olso,,yes,no,no,200,51,
ST-5,Bad hours,store,59.9,10.7,Europe/Oslo,mon-fri 9-5,yes,no,no,200,51,
ST-6,Bad latitude,store,99.9,10.7,Europe/Oslo,,yes,no,no,200,51,
"""


def stock_file(tmp_path: Path) -> Path:
    text = (
        "sku,location,on_hand\n"
        "SKU-1,ST-1,5\n"
        "SKU-2,ST-1,-3\n"  # line 3: negative
        "SKU-3,ST-9,4\n"  # line 4: unknown location
        "SKU-1,ST-1,6\n"  # line 5: duplicate of line 2
        "SKU-4,ST-2\n"  # line 6: missing column
    )
    path = tmp_path / "stock.csv"
    path.write_bytes(
        text.encode()
        + "SKU-Ø,ST-1,2\n".encode("latin-1")  # line 7: not UTF-8
        + b"SKU-5,WH-1,1000\n"
        + b"SKU-6,WH-1,twelve\n"  # line 9: not a number
        + b"SKU 7,WH-1,1\n"  # line 10: bad sku id
    )
    return path


def progress() -> Progress:
    return Progress("test", 1, io.StringIO())


async def test_bad_rows_are_reported_and_the_rest_loaded(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO, tmp_path: Path
) -> None:
    (tmp_path / "locations.csv").write_text(LOCATIONS)
    engine = await DurableEngine.open(jredis_url, db)
    try:
        async with db.acquire() as conn:
            loc = await import_locations(conn, engine, tmp_path / "locations.csv", progress())
            assert loc.rows_changed == 3
            assert [(e.line, e.field) for e in loc.errors] == [
                (5, "kind"), (6, "time_zone"), (7, "opening_hours"), (8, "latitude"),
            ]  # fmt: skip
            hours = await conn.fetchval("SELECT opening_hours FROM locations WHERE id = 'ST-1'")
            assert '"sat": [["10:00", "18:00"]]' in hours
            assert await engine.availability.group_members("ship-network") == ["ST-1", "WH-1"]

            report = await import_quantities(
                conn, engine, "stock", stock_file(tmp_path), progress()
            )
            got = {(e.line, e.field): e.reason for e in report.errors}
            assert set(got) == {
                (3, "on_hand"), (4, "location"), (5, "sku/location"), (6, ""),
                (7, "sku"), (9, "on_hand"), (10, "sku"),
            }  # fmt: skip
            assert got[(5, "sku/location")] == "duplicate of line 2"
            assert got[(7, "sku")] == "not valid UTF-8"
            assert "unknown location" in got[(4, "location")]
            assert report.rows_changed == 2 and report.errors_total == 7
            assert (await engine.availability.position("SKU-1", "ST-1")).on_hand == 5
            assert (await engine.availability.position("SKU-5", "WH-1")).on_hand == 1000
            events = await conn.fetchval("SELECT count(*) FROM ledger_events")

            again = await import_quantities(conn, engine, "stock", stock_file(tmp_path), progress())
            assert again.rows_changed == 0 and again.rows_unchanged == 2
            assert await conn.fetchval("SELECT count(*) FROM ledger_events") == events
            rerun = await import_locations(conn, engine, tmp_path / "locations.csv", progress())
            assert rerun.rows_changed == 3
            assert await conn.fetchval("SELECT count(*) FROM location_group_members") == 4
            assert await verify(rio, conn) == []
    finally:
        await engine.close()


async def test_a_file_without_the_required_columns_is_refused(
    db: asyncpg.Pool, jredis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "safety.csv"
    path.write_text("sku,store,safety\nSKU-1,ST-1,2\n")
    engine = await DurableEngine.open(jredis_url, db)
    try:
        async with db.acquire() as conn:
            with pytest.raises(FileRefused, match="lacks column"):
                await import_quantities(conn, engine, "safety", path, progress())
    finally:
        await engine.close()
