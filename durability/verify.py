"""Comparing the Redis ledger with the journal, and replaying the journal from zero.

Run it when the journal has caught up (``atp verify`` drains the streams first): an event
not yet journaled shows up as a difference, which is what a lagging journal is.
"""

import asyncio
from collections import defaultdict

import msgspec

from atp import keys
from atp.redis_io import RedisIO
from atp.redis_nodes import scan_keys
from durability.db import Conn
from durability.restore_reservations import LEG_EVENTS, fold_legs
from reservations.layout import HEADER, as_dict, leg_lines
from reservations.model import LineStatus

_CHUNK = 5_000
_FIELDS = ("oh", "rs", "sf", "in")


class JournalGap(RuntimeError):
    """An event's recorded position is not its predecessors' plus its deltas."""


class Difference(msgspec.Struct, frozen=True):
    kind: str  # position | reservation | leg
    key: str
    redis: str
    journal: str


def _position_key(sku: str, location: str) -> str:
    return keys.position(sku, location)


async def _redis_positions(redis: RedisIO, found: list[str]) -> list[tuple[int, ...]]:
    replies = await asyncio.gather(*(redis.command("HMGET", k, *_FIELDS) for k in found))
    return [tuple(int(v or 0) for v in reply) for reply in replies]


async def compare_positions(redis: RedisIO, conn: Conn) -> list[Difference]:
    diffs: list[Difference] = []
    in_redis = set(await scan_keys(redis, keys.POSITIONS_PATTERN))
    seen: set[str] = set()
    query = "SELECT sku, location, on_hand, reserved, safety, incoming FROM positions"
    async with conn.transaction():  # a server-side cursor: a million rows, a chunk at a time
        cursor = await conn.cursor(query)
        while chunk := await cursor.fetch(_CHUNK):
            names = [_position_key(r["sku"], r["location"]) for r in chunk]
            values = await _redis_positions(redis, names)
            for name, r, got in zip(names, chunk, values, strict=True):
                seen.add(name)
                want = (r["on_hand"], r["reserved"], r["safety"], r["incoming"])
                # A position never written in Redis reads as zeros, as the engine reads it.
                if got != want and not (name not in in_redis and not any(want)):
                    diffs.append(Difference("position", name, str(got), str(want)))
    extra = sorted(in_redis - seen)
    for start in range(0, len(extra), _CHUNK):
        names = extra[start : start + _CHUNK]
        for name, got in zip(names, await _redis_positions(redis, names), strict=True):
            diffs.append(Difference("position", name, str(got), "(none)"))
    return diffs


async def compare_reservations(redis: RedisIO, conn: Conn) -> list[Difference]:
    rows = await conn.fetch(
        "SELECT id, state FROM reservations WHERE state IN ('held', 'committed')"
    )
    diffs = []
    headers = await asyncio.gather(*(redis.command("HGETALL", keys.header(r["id"])) for r in rows))
    for r, header in zip(rows, headers, strict=True):
        state = as_dict(header).get(HEADER.state, "(none)")
        if state != r["state"]:
            diffs.append(Difference("reservation", r["id"], state, r["state"]))
    return diffs


def _lines_text(lines: list[LineStatus]) -> str:
    return ";".join(
        f"{ln.sku}@{ln.location} q{ln.qty} o{ln.open} f{ln.fulfilled} r{ln.released} x{ln.expired}"
        for ln in lines
    )


async def compare_legs(redis: RedisIO, conn: Conn) -> list[Difference]:
    """Live reservations' legs as Redis holds them and as the journal's events fold to
    (durability/restore_reservations.py, what a rebuild restores): every line, after moves
    and settlements."""
    rows = await conn.fetch("SELECT id FROM reservations WHERE state IN ('held', 'committed')")
    diffs = []
    for start in range(0, len(rows), _CHUNK):
        rids = [r["id"] for r in rows[start : start + _CHUNK]]
        events = await conn.fetch(LEG_EVENTS, rids)
        for (rid, partition), want in sorted(fold_legs(events).items()):
            leg = as_dict(await redis.command("HGETALL", keys.leg(partition, rid)))
            got = leg_lines(leg)
            if got != want and (want or got):
                key = keys.leg(partition, rid)
                diffs.append(Difference("leg", key, _lines_text(got), _lines_text(want)))
    return diffs


async def verify(redis: RedisIO, conn: Conn) -> list[Difference]:
    return (
        await compare_positions(redis, conn)
        + await compare_reservations(redis, conn)
        + await compare_legs(redis, conn)
    )


async def replay_positions(conn: Conn) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Every position from zero by the journal's deltas, in stream order; raises if an
    event's deltas do not lead to the position it recorded (a gap in the journal)."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    async with conn.transaction():
        query = (
            "SELECT partition, stream_ms, stream_seq, sku, location, d_on_hand, d_reserved,"
            " d_safety, d_incoming, on_hand, reserved, safety, incoming FROM ledger_events"
            " WHERE sku <> '' ORDER BY partition, stream_ms, stream_seq"
        )
        async for r in conn.cursor(query, prefetch=_CHUNK):
            t = totals[(r["sku"], r["location"])]
            t[0] += r["d_on_hand"]
            t[1] += r["d_reserved"]
            t[2] += r["d_safety"]
            t[3] += r["d_incoming"]
            after = [r["on_hand"], r["reserved"], r["safety"], r["incoming"]]
            if t != after:
                event_id = f"{r['partition']}-{r['stream_ms']}-{r['stream_seq']}"
                raise JournalGap(f"journal gap before {event_id}: replay {t}, event {after}")
    return {k: (v[0], v[1], v[2], v[3]) for k, v in totals.items()}
