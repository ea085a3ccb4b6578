"""Who did it: every event appended while an actor is set carries it (stream fields ``by``
and ``ref``), and the journal keeps them as columns ``actor`` and ``reference``; background
work names itself (the sweeper, the re-sourcer)."""

import asyncio
import datetime
import re
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from atp import actor, keys
from atp.clock import ManualClock
from atp.redis_io import RedisIO
from atp.register_events import RegisterEvent, RegisterEventKind, Registers
from atp.scripts import load_script
from cli.main import main
from engine.durable import DurableEngine
from engine.local import Engine
from reservations.model import Line
from routing.location_directory import InMemoryDirectory, RoutingLocation
from routing.model import Capability, LocationKind


async def _rows(db: asyncpg.Pool, *types: str) -> list[tuple[str, str, str]]:
    rows = await db.fetch(
        "SELECT type, actor, reference FROM ledger_events WHERE type = ANY($1::text[])"
        " ORDER BY partition, stream_ms, stream_seq",
        list(types),
    )
    return [(r["type"], r["actor"], r["reference"]) for r in rows]


async def test_a_write_carries_its_actor_and_reference_into_the_journal(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    engine = await DurableEngine.open(jredis_url, db, start_sweeper=False)
    try:
        with actor.acting("k1", "PO-77"):
            assert (await engine.stock.adjust("SKU-1", "S1", 5, "receipt")).ok
        assert actor.current() == actor.NOBODY  # the block is over
        assert (await engine.stock.adjust("SKU-1", "S1", 1, "receipt")).ok
        rows = await _rows(db, "adjusted")
        assert rows == [("adjusted", "k1", "PO-77"), ("adjusted", "", "")]
        # Empty values are not written to the stream at all: entries stay small.
        entries = await rio.command("XRANGE", keys.stream(keys.partition_of_sku("SKU-1")), "-", "+")
        fields = [dict(zip(f[::2], f[1::2], strict=True)) for _, f in entries]
        assert (fields[0]["by"], fields[0]["ref"]) == ("k1", "PO-77")
        assert "by" not in fields[1] and "ref" not in fields[1]
        with actor.acting("k2"):
            assert (await engine.stock.set_safety("SKU-1", "S1", 1)).ok
        entries = await rio.command("XRANGE", keys.stream(keys.partition_of_sku("SKU-1")), "-", "+")
        last = dict(zip(entries[-1][1][::2], entries[-1][1][1::2], strict=True))
        assert last["by"] == "k2" and "ref" not in last
    finally:
        await engine.close()


async def test_holds_commits_sales_and_the_sweepers_expiries_carry_their_actor(
    db: asyncpg.Pool, jredis_url: str
) -> None:
    clock = ManualClock()
    engine = await DurableEngine.open(jredis_url, db, clock=clock, start_sweeper=False)
    try:
        await engine.stock.adjust("SKU-1", "S1", 10, "receipt")
        with actor.acting("oms", "order-9"):
            held = await engine.reservations.reserve("R-1", "online", [Line("SKU-1", "S1", 2)])
            assert held.ok
            assert (await engine.reservations.commit("R-1")).ok
        with actor.acting("web"):
            held = await engine.reservations.reserve("R-2", "online", [Line("SKU-1", "S1", 1)], 60)
            assert held.ok
        with actor.acting("till-key", "receipt-5"):
            sale = RegisterEvent(RegisterEventKind.sale, "e1", 1, 0, "SKU-1", "S1", 1)
            [result] = await Registers(engine.redis, clock).replay("till-1", [sale])
            assert result.status == "applied"
        clock.advance(61_000)
        assert await engine.sweeper.sweep_once() == 1
        assert actor.current() == actor.NOBODY
        await engine.durability.sync()
        assert sorted(await _rows(db, "reserved", "reservation_held", "reservation_committed")) == [
            ("reservation_committed", "oms", "order-9"),
            ("reservation_held", "oms", "order-9"),
            ("reservation_held", "web", ""),
            ("reserved", "oms", "order-9"),
            ("reserved", "web", ""),
        ]
        sales = await db.fetch(
            "SELECT actor, reference FROM ledger_events WHERE reason LIKE 'pos_%'"
        )
        assert [tuple(r) for r in sales] == [("till-key", "receipt-5")]
        assert sorted(await _rows(db, "expired", "reservation_expired")) == [
            ("expired", actor.SWEEPER, ""),
            ("reservation_expired", actor.SWEEPER, ""),
        ]
    finally:
        await engine.close()


async def test_re_sourcing_moves_and_flags_say_the_resourcer_did_them(
    db: asyncpg.Pool, jredis_url: str
) -> None:
    ship = frozenset({Capability.ship})
    directory = InMemoryDirectory(
        [
            RoutingLocation(
                "S1", LocationKind.store, frozenset({Capability.pickup}), 60.0, 10.0, 100
            ),
            RoutingLocation("W1", LocationKind.warehouse, ship, 60.2, 10.0, 100),
        ]
    )
    engine = await DurableEngine.open(jredis_url, db, start_sweeper=False, directory=directory)
    try:
        await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
        await engine.stock.adjust("SKU-1", "W1", 1, "receipt")
        with actor.acting("oms"):
            assert (await engine.reservations.reserve("R-1", "online", [Line("SKU-1", "S1", 4)])).ok
            assert (await engine.reservations.commit("R-1")).ok
        with actor.acting("counter", "count-3"):
            assert (await engine.stock.set_on_hand("SKU-1", "S1", 1)).ok  # 3 short
        resourcer = engine.resourcer
        assert resourcer is not None
        [outcome] = await resourcer.run_once()
        assert outcome.moved == [("R-1", "W1", 1)] and outcome.flagged == [("R-1", 2)]
        await engine.durability.sync()
        assert sorted(await _rows(db, "counted", "reservation_moved", "reservation_flagged")) == [
            ("counted", "counter", "count-3"),
            ("reservation_flagged", actor.RESOURCER, ""),
            ("reservation_moved", actor.RESOURCER, ""),
            ("reservation_moved", actor.RESOURCER, ""),
        ]
    finally:
        await engine.close()


async def _seed_supply(url: str) -> None:
    engine = Engine.connect(url)
    try:
        due = datetime.date(2027, 1, 15)
        assert (await engine.stock.add_incoming("SKU-1", "ST-1", "PO-1", 10, due)).ok
    finally:
        await engine.close()


async def _actors(dsn: str) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT type, actor, reference FROM ledger_events WHERE sku = 'SKU-1'"
            " ORDER BY stream_ms, stream_seq"
        )
        return [(r["type"], r["actor"], r["reference"]) for r in rows]
    finally:
        await conn.close()


def test_atp_commands_name_themselves(
    db: asyncpg.Pool, pg_dsn: str, jredis_url: str, tmp_path: Path
) -> None:
    common = ["--dsn", pg_dsn, "--redis", jredis_url]
    (tmp_path / "loc.csv").write_text(
        "id,name,kind,latitude,longitude,time_zone\nST-1,Store,store,59.9,10.7,Europe/Oslo\n"
    )
    (tmp_path / "stock.csv").write_text("sku,location,on_hand\nSKU-1,ST-1,5\n")
    assert main(["import", "locations", str(tmp_path / "loc.csv"), *common]) == 0
    assert main(["import", "stock", str(tmp_path / "stock.csv"), *common]) == 0
    asyncio.run(_seed_supply(jredis_url))  # the engine alone: nobody in particular
    assert main(["supply", "cancel", "PO-1", "--sku", "SKU-1", "--location", "ST-1", *common]) == 0
    assert asyncio.run(_actors(pg_dsn)) == [
        ("counted", "import:stock.csv", ""),
        ("incoming_added", "", ""),  # the engine alone, journaled by the next durable flush
        ("incoming_cancelled", actor.CLI, ""),
    ]


def _scripts(package: str) -> dict[str, str]:
    folder = resources.files(package)
    return {
        p.name.removesuffix(".lua"): p.read_text()
        for p in folder.iterdir()
        if p.name.endswith(".lua") and not p.name.startswith("_")
    }


@pytest.mark.parametrize("package", ["atp.lua", "reservations.lua"])
def test_every_script_that_appends_events_takes_the_actor(package: str) -> None:
    appends = re.compile(r"\b(emit|emit_held|leg_hold|leg_unhold)\(")
    for name, text in _scripts(package).items():
        script = load_script(package, name)
        assert script.actor == bool(appends.search(text)), name
        if script.actor:  # ARGV's own count excludes the actor's two values
            assert "#ARGV" not in text.split("take_actor()", 1)[1], name


def test_a_bad_reference_is_refused() -> None:
    assert actor.check_reference(None) == ""
    assert actor.check_reference("PO-77 / dock 3") == "PO-77 / dock 3"
    for bad in ("", " x", "x ", "x" * 201, "tab\there", "caf\u00e9"):
        with pytest.raises(ValueError, match=r"header\.Atp-Reference"):
            actor.check_reference(bad)
