"""Rebuilding the Redis ledger from PostgreSQL, and deciding when that is needed.

What is restored: every position (the position after its newest journaled event), incoming
supply, live reservations (held and committed headers with their legs, their fulfill and
release op receipts, and expiry entries, so they can still be committed, fulfilled, released
or expired; legs as re-sourcing moved them, and the committed index), the shortage set and
attention items of re-sourcing (routing/resourcing.py), location groups (the catalog's,
then each group's newest `group_defined` event), and within RETENTION_S: stock operation
receipts, register device logs and receipts and allocations' route records; and each
stream's last id (new events sort after the journal's). Each restore_*.py module restores
one part. Order: the epoch key is deleted first and set last, so an engine that sees an
epoch sees a complete ledger; every partition's copy of it (durability/fence.py) is set
just before it. On a Redis Cluster the same: keys are found on every master, bulk writes go
to the master of their slot (durability/bulk_cluster.py), and the epoch, on the master of
``{meta}``, is still set last.
"""

import asyncio
import time

import msgspec

from atp import keys
from atp.events import SHORT
from atp.limits import LEDGER_PARTITIONS
from atp.redis_cluster import ClusterRedis
from atp.redis_io import PipelinedRedis, RedisIO
from atp.redis_nodes import scan_keys
from durability.bulk import BulkWriter
from durability.bulk_cluster import ClusterBulkWriter, hash_tag
from durability.db import Conn
from durability.fence import fence_state, set_epoch
from durability.limits import LOCK_REBUILD, REBUILD_ATTEMPTS_MAX, REBUILD_PIPELINE_MAX
from durability.restore_registers import load_registers
from durability.restore_reservations import (
    ExpiryEntry,
    forget_resolved,
    load_orphans,
    load_reservations,
    roll_back_orphans,
)
from durability.restore_routing import load_attention, load_groups, load_routes
from durability.restore_stock import load_incoming, load_receipts
from durability.streams import EPOCH_KEY, PARTITIONS, id_tuple, last_ids, still_holds
from durability.writer import create_groups


class RebuildReport(msgspec.Struct):
    epoch: int
    reason: str
    positions: int = 0
    reservations: int = 0
    supplies: int = 0
    receipts: int = 0
    register_receipts: int = 0
    routes: int = 0
    orphans: int = 0  # legs of holds whose header never reached the journal, rolled back
    seconds: float = 0.0


class RebuildError(RuntimeError):
    pass


def bulk_writer(redis: RedisIO) -> BulkWriter:
    """Bulk connections to the same Redis: one, or one per master of a cluster."""
    if isinstance(redis, ClusterRedis):
        return ClusterBulkWriter(redis)
    if not isinstance(redis, PipelinedRedis):
        raise RebuildError(f"rebuild cannot bulk-write through {type(redis).__name__}")
    return BulkWriter(f"redis://{redis.host}:{redis.port}/{redis.db}")


# The ledger's keys: everything of a partition ({pNN}) and the location group sets. Other
# atp: keys (API keys, idempotency records, the API's ledger marker) are not the ledger's
# and a rebuild leaves them alone.
LEDGER_PATTERNS = (keys.PARTITION_KEYS_PATTERN, keys.group("*"))


async def _wipe(redis: RedisIO) -> None:
    for pattern in LEDGER_PATTERNS:
        # One UNLINK per hash tag: a cluster refuses a command whose keys span slots.
        by_tag: dict[str, list[str]] = {}
        for key in await scan_keys(redis, pattern):
            by_tag.setdefault(hash_tag(key), []).append(key)
        for found in by_tag.values():
            for start in range(0, len(found), REBUILD_PIPELINE_MAX):
                await redis.command("UNLINK", *found[start : start + REBUILD_PIPELINE_MAX])


async def _load_positions(conn: Conn, pipe: BulkWriter) -> int:
    count = 0
    async with conn.transaction():
        query = "SELECT sku, location, on_hand, reserved, safety, incoming FROM positions"
        async for r in conn.cursor(query, prefetch=REBUILD_PIPELINE_MAX):
            await pipe.command(
                "HSET", keys.position(r["sku"], r["location"]), "oh", r["on_hand"],
                "rs", r["reserved"], "sf", r["safety"], "in", r["incoming"],
            )  # fmt: skip
            if r["on_hand"] < r["reserved"]:  # still short: re-sourcing looks at it again
                shortages = keys.shortages(keys.partition_of_sku(r["sku"]))
                await pipe.command("SADD", shortages, f"{r['location']}|{r['sku']}")
            count += 1
    return count


async def _load_oversold(conn: Conn, pipe: BulkWriter) -> None:
    """Units registers oversold at each position (field os): the newest event carrying it."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (sku, location) sku, location, oversold FROM ledger_events"
        " WHERE oversold IS NOT NULL ORDER BY sku, location, stream_ms DESC, stream_seq DESC"
    )
    for r in rows:
        if r["oversold"]:
            await pipe.command("HSET", keys.position(r["sku"], r["location"]), "os", r["oversold"])


# One index probe per partition (a loose index scan), not a scan of the journal.
_NEWEST_IDS = """
SELECT p AS partition, e.stream_ms, e.stream_seq
FROM generate_series(0, $1::int - 1) AS p
CROSS JOIN LATERAL (
    SELECT stream_ms, stream_seq FROM ledger_events WHERE partition = p
    ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1
) AS e
"""


async def _has_ledger_keys(redis: RedisIO) -> bool:
    return bool(await scan_keys(redis, LEDGER_PATTERNS[0], first_only=True))


async def _set_stream_ids(conn: Conn, redis: RedisIO) -> None:
    """Each stream resumes after the journal's newest id: XADD at that id, then XDEL, leaves
    an empty stream whose next ``*`` id is larger, whatever the clock did meanwhile."""
    for r in await conn.fetch(_NEWEST_IDS, LEDGER_PARTITIONS):
        stream, last = keys.stream(r["partition"]), f"{r['stream_ms']}-{r['stream_seq']}"
        await redis.command("XADD", stream, last, SHORT["type"], "rebuild_marker")
        await redis.command("XDEL", stream, last)
    await create_groups(redis, "$")


async def _streams_clean(redis: RedisIO) -> bool:
    """No entry in any stream: nobody wrote into the ledger while it was being rebuilt."""
    lengths = await asyncio.gather(*(redis.command("XLEN", keys.stream(p)) for p in PARTITIONS))
    return not any(lengths)


async def rebuild(redis: RedisIO, conn: Conn, reason: str) -> RebuildReport:
    """Replaces the ledger in Redis with the journal's. Holds the rebuild advisory lock."""
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_REBUILD)
    try:
        return await _rebuild_locked(redis, conn, reason)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_REBUILD)


async def _rebuild_locked(redis: RedisIO, conn: Conn, reason: str) -> RebuildReport:
    started = time.monotonic()
    report = RebuildReport(epoch=0, reason=reason)
    for _ in range(REBUILD_ATTEMPTS_MAX):
        await redis.command("DEL", EPOCH_KEY)
        await _wipe(redis)
        expiries: list[ExpiryEntry] = []
        async with bulk_writer(redis) as pipe:
            report.positions = await _load_positions(conn, pipe)
            await _load_oversold(conn, pipe)
            report.supplies = await load_incoming(conn, pipe)
            report.reservations = await load_reservations(conn, pipe, expiries)
            report.receipts = await load_receipts(conn, pipe)
            report.register_receipts = await load_registers(conn, pipe)
            await load_groups(conn, pipe)
            report.routes = await load_routes(conn, pipe)
            await load_attention(conn, pipe)
            orphans = await load_orphans(conn, pipe, int(time.time() * 1000))
        await _set_stream_ids(conn, redis)
        if await _streams_clean(redis):
            break
    else:
        raise RebuildError(
            f"engines kept writing while the ledger was rebuilt ({REBUILD_ATTEMPTS_MAX} tries)"
        )
    # Before the epoch: no retry of those holds can meet a leg without its digest.
    await roll_back_orphans(redis, orphans)
    await forget_resolved(conn, orphans)
    report.orphans = len(orphans)
    # The epoch exists only once its ledger is complete: journal batches read under an
    # older one are refused from here on (durability/store.py), and one that failed
    # half-way leaves Redis without an epoch, so it is rebuilt again.
    report.epoch = await conn.fetchval(
        "INSERT INTO ledger_epochs (reason, positions, reservations) VALUES ($1, $2, $3)"
        " RETURNING epoch",
        reason, report.positions, report.reservations,
    )  # fmt: skip
    await set_epoch(redis, str(report.epoch))
    async with bulk_writer(redis) as pipe:
        for key, deadline, member in expiries:
            await pipe.command("ZADD", key, deadline, member)
    report.seconds = time.monotonic() - started
    await conn.execute(
        "UPDATE ledger_epochs SET seconds = $2 WHERE epoch = $1", report.epoch, report.seconds
    )
    return report


async def ledger_state(redis: RedisIO, conn: Conn) -> str:
    """'ok', or why Redis cannot serve: 'missing' (no epoch: restarted empty or never built),
    'partial' (a partition's copy of the epoch is gone: on a cluster, a master restarted
    empty), 'behind' (a stream lacks the journal's newest event of it: restored from an old
    snapshot, or a replica promoted before replication brought it),
    'unfenced' (whole, but set up before the partitions' copies existed)."""
    state, _ = await fence_state(redis)
    if state in ("missing", "partial"):
        return state
    rows = await conn.fetch(_NEWEST_IDS, LEDGER_PARTITIONS)
    redis_ids = await last_ids(redis)
    for r in rows:
        newest, partition = (r["stream_ms"], r["stream_seq"]), r["partition"]
        if id_tuple(redis_ids[partition]) < newest:
            return "behind"
        # A promoted replica that lacks journaled entries and took a write since (issue 17).
        if not await still_holds(redis, partition, f"{newest[0]}-{newest[1]}"):
            return "behind"
    return "ok" if state == "whole" else state


async def ensure_ledger(redis: RedisIO, conn: Conn) -> RebuildReport | None:
    """Rebuilds when Redis lost or is behind its ledger; None when it was fine.

    A Redis that holds ledger keys but never had an epoch, while PostgreSQL has none either,
    is adopted as is (a ledger built before the journal existed): the journal writer copies
    its streams. Wiping it would lose everything. A whole ledger without the partitions'
    copies of its epoch (set up before they existed) gets them, under the rebuild lock."""
    state = await ledger_state(redis, conn)
    if state == "ok":
        return None
    has_epochs = await conn.fetchval("SELECT count(*) FROM ledger_epochs")
    if state == "missing" and not has_epochs and await _has_ledger_keys(redis):
        epoch = await conn.fetchval(
            "INSERT INTO ledger_epochs (reason) VALUES ('adopted') RETURNING epoch"
        )
        await set_epoch(redis, str(epoch))
        return None
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_REBUILD)
    try:
        # Another process may have rebuilt while we waited for the lock.
        state = await ledger_state(redis, conn)
        if state == "ok":
            return None
        if state == "unfenced":
            _, epoch = await fence_state(redis)
            if epoch is not None:
                await set_epoch(redis, epoch)
                return None
        return await _rebuild_locked(redis, conn, f"ledger {state}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_REBUILD)
