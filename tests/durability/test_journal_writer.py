"""The stream consumer journals every event exactly once, with positions and headers."""

import asyncpg
import msgspec

from atp import keys
from atp.clock import ManualClock
from atp.events import decode_entry, read_all_events
from atp.model import Event
from atp.redis_io import RedisIO, hash_reply
from durability.rebuild import ensure_ledger
from durability.store import write_entries
from durability.streams import fields_of
from durability.verify import replay_positions, verify
from durability.writer import JournalWriter, create_groups
from engine.local import Engine
from oracles.ledger import online_atp
from reservations.layout import Header, header_from
from support.journal import mixed_ops


async def _raw(rio: RedisIO, partition: int) -> list[tuple[Event, dict[str, str]]]:
    raw = await rio.command("XRANGE", keys.stream(partition), "-", "+")
    return [
        (decode_entry(partition, sid, fields_of(f) or {}), fields_of(f) or {}) for sid, f in raw
    ]


def event_of(r: asyncpg.Record) -> Event:
    return Event(
        id=f"{r['partition']}-{r['stream_ms']}-{r['stream_seq']}", type=r["type"], sku=r["sku"],
        location=r["location"], d_on_hand=r["d_on_hand"], d_reserved=r["d_reserved"],
        d_safety=r["d_safety"], d_incoming=r["d_incoming"], on_hand=r["on_hand"],
        reserved=r["reserved"], safety=r["safety"], incoming=r["incoming"],
        reason=r["reason"], reservation_id=r["reservation_id"], op_id=r["op_id"],
        ts_ms=r["ts_ms"], oversold=r["oversold"],
    )  # fmt: skip


def without_header(event: Event) -> Event:
    """What a journal row holds of an event: a held event's header fields go to the
    reservations table instead."""
    return msgspec.structs.replace(event, digest="", expires_ms=0, parts="")


async def journal_events(db: asyncpg.Pool) -> list[Event]:
    rows = await db.fetch("SELECT * FROM ledger_events ORDER BY partition, stream_ms, stream_seq")
    for r in rows:  # events do not carry ATP: the journal derives it (durability/store.py)
        after = [r["on_hand"], r["reserved"], r["safety"], r["incoming"]]
        deltas = [r["d_on_hand"], r["d_reserved"], r["d_safety"], r["d_incoming"]]
        before = [a - d for a, d in zip(after, deltas, strict=True)]
        assert (r["atp_before"], r["atp_after"]) == (online_atp(before), online_atp(after)), r
    return [event_of(r) for r in rows]


async def test_writer_journals_every_event_once(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    clock = ManualClock()
    engine = Engine.connect(jredis_url, clock)
    try:
        async with db.acquire() as conn:
            assert await ensure_ledger(rio, conn) is not None  # epoch 1 on an empty start
        await create_groups(rio)
        await mixed_ops(engine, clock)
        writer = JournalWriter(rio, db, "test-1")
        assert await writer.drain() > 0
        stream = [
            without_header(e) for events in (await read_all_events(rio)).values() for e in events
        ]
        assert await journal_events(db) == stream
        assert await writer.drain() == 0  # everything acknowledged
        # A replay of the whole streams (a second group reading from 0) writes nothing.
        for p in range(32):
            await rio.command("XGROUP", "CREATE", keys.stream(p), "replay", "0")
        entries = [
            (p, e.id.split("-", 1)[1], fields)
            for p in range(32)
            for e, fields in await _raw(rio, p)
        ]
        async with db.acquire() as conn:
            epoch = str(await conn.fetchval("SELECT max(epoch) FROM ledger_epochs"))
            assert await write_entries(conn, entries, epoch) == 0
        assert await journal_events(db) == stream
        async with db.acquire() as conn:
            assert await verify(rio, conn) == []
            replayed = await replay_positions(conn)
        assert replayed[("SKU-3", "W1")] == (100, 0, 0, 50)
        states = {r["id"]: r["state"] for r in await db.fetch("SELECT id, state FROM reservations")}
        assert states == {
            "R-held": "held", "R-commit": "committed", "R-part": "committed",
            "R-done": "fulfilled", "R-rel": "released", "R-exp": "expired",
        }  # fmt: skip
        # Journaled from the held event alone (no read of the header in Redis).
        row = await db.fetchrow("SELECT * FROM reservations WHERE id = 'R-held'")
        header = await rio.command("HGETALL", keys.header("R-held"))
        assert header_from(hash_reply(header)) == Header(
            row["state"], row["digest"], row["channel"], row["expires_at_ms"],
            row["created_ms"], row["parts"],
        )  # fmt: skip
        digest = await db.fetchval("SELECT digest FROM reservations WHERE id = 'R-commit'")
        assert digest.startswith("online#600#")
    finally:
        await engine.close()


async def test_writer_skips_a_ledger_without_epoch(
    db: asyncpg.Pool, jredis_url: str, rio: RedisIO
) -> None:
    engine = Engine.connect(jredis_url, ManualClock())
    try:
        await create_groups(rio)
        await engine.stock.adjust("SKU-1", "S1", 5, "receipt")
        assert await JournalWriter(rio, db, "w").step() == 0
        assert await db.fetchval("SELECT count(*) FROM ledger_events") == 0
    finally:
        await engine.close()
