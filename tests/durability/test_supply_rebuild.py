"""Supplies received in part or whole, cancelled and re-dated are journaled, acknowledged
only once durable, and a Redis that lost everything gets each supply hash back as it was."""

import asyncio
from datetime import date

import asyncpg
import pytest
import redis

from atp.clock import ManualClock
from atp.model import Channel, StockResult, Supply
from atp.redis_io import RedisIO
from cli.main import main
from durability.rebuild import ensure_ledger
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.durable import DurableEngine
from engine.local import Engine

DUE, LATER = date(2027, 1, 5), date(2027, 2, 1)


def supply_hashes(url: str) -> dict[str, dict[str, str]]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        found: dict[str, dict[str, str]] = {}
        for key in client.scan_iter("atp:*:inc:*", count=10_000):
            found[str(key)] = {str(k): str(v) for k, v in client.hgetall(key).items()}
        return found
    finally:
        client.close()


async def _lifecycle(engine: Engine) -> None:
    stock = engine.stock
    for po, qty in (("PO-1", 10), ("PO-2", 5), ("PO-3", 7), ("PO-4", 4), ("PO-5", 3)):
        assert (await stock.add_incoming("SKU-1", "W1", po, qty, DUE)).ok
    assert (await stock.receive_incoming("SKU-1", "W1", "PO-1", 4, op_id="r-1")).ok  # part
    assert (await stock.receive_incoming("SKU-1", "W1", "PO-2")).ok  # whole
    assert (await stock.receive_incoming("SKU-1", "W1", "PO-5", 6)).ok  # over
    assert (await stock.cancel_incoming("SKU-1", "W1", "PO-3")).ok
    assert (await stock.redate_incoming("SKU-1", "W1", "PO-4", LATER)).ok
    assert (await stock.receive_incoming("SKU-1", "W1", "PO-4", 1, reason="first box")).ok


async def test_rebuild_restores_received_cancelled_and_redated_supplies(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    engine = Engine.connect(jredis_url, ManualClock())
    try:
        async with db.acquire() as conn:
            await ensure_ledger(rio, conn)
        await create_groups(rio)
        await _lifecycle(engine)
        await JournalWriter(rio, db, "w").drain()
        before = supply_hashes(jredis_url)
        position = await engine.availability.position("SKU-1", "W1")
        assert (position.on_hand, position.incoming) == (4 + 5 + 6 + 1, 6 + 3)
        await rio.command("FLUSHDB")
        async with db.acquire() as conn:
            report = await ensure_ledger(rio, conn)
            assert report is not None and report.supplies == 2
            assert await verify(rio, conn) == []
            replayed = await replay_positions(conn)
        assert replayed[("SKU-1", "W1")][3] == 9
        assert supply_hashes(jredis_url) == before
        supplies = await engine.availability.supplies([("SKU-1", "W1")])
        assert sorted(supplies[("SKU-1", "W1")], key=lambda s: s.supply_id) == [
            Supply("PO-1", 6, DUE),
            Supply("PO-4", 3, LATER),
        ]
        # The rebuilt supply goes on: the rest of PO-1 arrives; PO-3 stays cancelled.
        rest = await engine.stock.receive_incoming("SKU-1", "W1", "PO-1")
        assert rest.received == 6 and rest.remaining == 0
        gone = await engine.stock.receive_incoming("SKU-1", "W1", "PO-3")
        assert gone.result is StockResult.supply_not_found
        today = date(2027, 1, 1)
        assert (
            await engine.availability.promise("SKU-1", 25, ["W1"], Channel.online, today) == LATER
        )
    finally:
        await engine.close()


async def test_supply_writes_retried_after_a_rebuild_apply_once(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    """A partial receipt, a cancel and a re-date, each with an op id, journaled; Redis lost
    and rebuilt; each retry answers duplicate with its first reply and changes nothing."""
    engine = Engine.connect(jredis_url, ManualClock())
    try:
        async with db.acquire() as conn:
            await ensure_ledger(rio, conn)
        await create_groups(rio)
        stock = engine.stock
        for po in ("PO-1", "PO-2", "PO-3"):
            assert (await stock.add_incoming("SKU-1", "W1", po, 10, DUE)).ok
        writes = [
            lambda: stock.receive_incoming("SKU-1", "W1", "PO-1", 4, reason="box", op_id="o-1"),
            lambda: stock.cancel_incoming("SKU-1", "W1", "PO-2", op_id="o-2"),
            lambda: stock.redate_incoming("SKU-1", "W1", "PO-3", LATER, op_id="o-3"),
        ]
        first = [await write() for write in writes]
        await JournalWriter(rio, db, "w").drain()
        before = await engine.availability.position("SKU-1", "W1")
        await rio.command("FLUSHDB")
        async with db.acquire() as conn:
            assert await ensure_ledger(rio, conn) is not None
        for write, original in zip(writes, first, strict=True):
            again = await write()
            assert again.result is StockResult.duplicate, again
            assert (again.received, again.retired, again.remaining) == (
                original.received,
                original.retired,
                original.remaining,
            )
        assert await engine.availability.position("SKU-1", "W1") == before
        no_qty = await stock.receive_incoming("SKU-1", "W1", "PO-1", reason="box", op_id="o-1")
        assert no_qty.result is StockResult.op_conflict  # refused, never applied twice
    finally:
        await engine.close()


async def test_a_receipt_is_acknowledged_only_once_journaled(
    db: asyncpg.Pool, jredis_url: str
) -> None:
    engine = await DurableEngine.open(jredis_url, db, start_sweeper=False)
    try:
        await engine.stock.add_incoming("SKU-1", "W1", "PO-1", 10, DUE)
        out = await engine.stock.receive_incoming("SKU-1", "W1", "PO-1", 4, op_id="r-1")
        assert out.ok
        cancel = await engine.stock.cancel_incoming("SKU-1", "W1", "PO-1")
        redate = await engine.stock.redate_incoming("SKU-1", "W1", "PO-1", LATER)
        assert cancel.ok and redate.result is StockResult.supply_not_found
        rows = await db.fetch(
            "SELECT type, d_on_hand, d_incoming, reason, op_id FROM ledger_events"
            " WHERE sku = 'SKU-1' ORDER BY stream_ms, stream_seq"
        )
        assert [tuple(r) for r in rows] == [
            ("incoming_added", 0, 10, f"PO-1@{(DUE - date(1970, 1, 1)).days}", ""),
            ("incoming_received", 4, -4, "PO-1", "r-1"),
            ("incoming_cancelled", 0, -6, "PO-1", ""),
        ]
        position = await db.fetchrow(
            "SELECT on_hand, incoming FROM positions WHERE sku = 'SKU-1' AND location = 'W1'"
        )
        assert position is not None and tuple(position) == (4, 0)
    finally:
        await engine.close()


async def _seed_supply(url: str) -> None:
    engine = Engine.connect(url)
    try:
        assert (await engine.stock.add_incoming("SKU-1", "W1", "PO-1", 10, DUE)).ok
    finally:
        await engine.close()


async def _journaled(dsn: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT type, d_on_hand, d_incoming FROM ledger_events"
            " WHERE sku = 'SKU-1' ORDER BY stream_ms, stream_seq"
        )
        return [tuple(r) for r in rows]
    finally:
        await conn.close()


def test_atp_supply_commands(
    db: asyncpg.Pool, pg_dsn: str, jredis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed_supply(jredis_url))
    ref = ["PO-1", "--sku", "SKU-1", "--location", "W1", "--dsn", pg_dsn, "--redis", jredis_url]
    receive = ["supply", "receive", *ref, "--qty", "4", "--op-id", "r-1", "--reason", "box 1"]
    assert main(receive) == 0
    out = capsys.readouterr().out
    assert "applied: received 4 of supply PO-1 at W1/SKU-1" in out
    assert "6 still expected; on hand 4, incoming 6" in out
    assert main(receive) == 0  # the same op id: answered, not received again
    assert "duplicate: received 4" in capsys.readouterr().out
    assert main(["supply", "redate", *ref, "--expected-at", "2027-02-01"]) == 0
    assert "re-dated" in capsys.readouterr().out
    assert main(["supply", "cancel", *ref]) == 0
    assert "cancelled 6 of supply PO-1" in capsys.readouterr().out
    assert main(["supply", "cancel", *ref]) == 1
    assert "supply_not_found" in capsys.readouterr().err
    assert main(["supply", "receive", *ref, "--qty", "0"]) == 1
    assert "qty:" in capsys.readouterr().err
    # (The supply itself was recorded before the ledger had a journal: adopted, not replayed.)
    assert asyncio.run(_journaled(pg_dsn))[-3:] == [
        ("incoming_received", 4, -4),
        ("incoming_redated", 0, 0),
        ("incoming_cancelled", 0, -6),
    ]
