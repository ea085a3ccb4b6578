"""Failover under load on a private 3-master, 3-replica cluster (issue 17;
support/cluster_replicas.py).

Writers send acknowledged writes through the durable engine (receipts, holds, commits),
each retried with its ids on 503 (``LedgerUnavailable``) or a Redis error until it is
acknowledged. Meanwhile one master (not the one of ``{meta}``) loses its replica link for
``WINDOW_S`` (the replica is stopped, so it cannot reconnect), is SIGKILLed, and its replica
takes over by itself after ``cluster-node-timeout``. Redis replication is asynchronous:
what the master took during the window was acknowledged (journaled by the group commit)
and is on no replica, so the promoted replica serves a ledger without it, with the epoch
and every copy of it (they were replicated long before). The journal is the record: the
engine must find the promoted ledger behind the journal and rebuild it.

Afterwards: every write acknowledged exactly once in the ledger and in PostgreSQL, nothing
applied twice, ``verify`` clean, and the window (journaled events the replica lacked) not
empty, so the test shows the loss it repairs. A hold whose leg was journaled but whose
header never reached the dead master (the kill lands there about one run in six) must not
be held twice: the rebuild rolls such legs back (durability/restore_reservations.py) and
the retry holds once.

The second test is the race the first does not force: something writes into the promoted
replica before a durable process looks, so the streams' last ids are newer than the
journal's; the check must still find the journaled events missing (durability/streams.py
``still_holds``).
"""

import asyncio
import contextlib
import functools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
import pytest
from redis.exceptions import RedisError

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.model import LedgerUnavailable, StockResult
from atp.redis_connect import connect
from durability.verify import verify
from durability.writer import JournalWriter
from engine.durable import DurableEngine
from engine.local import Engine
from reservations.model import Line, ReserveResult, TransitionResult
from support.cluster_faults import sku_in
from support.cluster_replicas import (
    ReplicatedCluster,
    fail_over,
    journaled_in_window,
    kill_and_promote,
    lag,
    replicated_cluster,
)

pytestmark = [pytest.mark.slow, pytest.mark.servers, pytest.mark.timeout(90)]

WORKERS = 12
STORE = "S1"
BASE = 1_000  # on hand before the load
TTL_S = 3_600
WARM_S = 1.0  # load before the fault
WINDOW_S = 0.3  # the master takes writes its replica will never see
AFTER_S = 1.5  # load once the engine serves again
ACK_DEADLINE_S = 30.0  # one write, retried, must be acknowledged within this
RETRY_PAUSE_S = 0.02
POLL_S = 0.01
T = TypeVar("T")
RETRIED = (LedgerUnavailable, RedisError, OSError, asyncpg.PostgresError)


@dataclass
class Tally:
    adjusted: Counter[str] = field(default_factory=Counter)  # sku -> receipts acknowledged
    held: dict[str, str] = field(default_factory=dict)  # reservation id -> sku
    committed: set[str] = field(default_factory=set)
    aborted: set[str] = field(default_factory=set)  # never acknowledged: rolled back
    retries: Counter[str] = field(default_factory=Counter)  # error type -> count
    acknowledged: int = 0


@pytest.fixture
def cluster() -> Iterator[ReplicatedCluster]:
    with replicated_cluster() as started:
        yield started


async def _acknowledged(tally: Tally, call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` until it returns (same ids each time); counts the errors it retried."""
    deadline = time.monotonic() + ACK_DEADLINE_S
    while True:
        try:
            result = await call()
        except RETRIED as error:
            tally.retries[type(error).__name__] += 1
            assert time.monotonic() < deadline, f"not acknowledged in {ACK_DEADLINE_S}s: {error}"
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        tally.acknowledged += 1
        return result


async def _write_on(
    engine: DurableEngine, worker: int, skus: list[str], tally: Tally, stop: asyncio.Event
) -> None:
    """Receipt, hold, commit of that hold, in turn, on the worker's own SKUs."""
    step = 0
    last_hold: str | None = None
    while not stop.is_set():
        sku = skus[step % len(skus)]
        kind = step % 3
        if kind == 0:
            op_id = f"a{worker}-{step}"
            adjust = functools.partial(engine.stock.adjust, sku, STORE, 1, "receipt", op_id=op_id)
            done = await _acknowledged(tally, adjust)
            assert done.result in (StockResult.applied, StockResult.duplicate)
            tally.adjusted[sku] += 1
        elif kind == 1:
            rid = f"h{worker}-{step}"
            lines = [Line(sku, STORE, 1)]
            reserve = functools.partial(engine.reservations.reserve, rid, "online", lines, TTL_S)
            held = await _acknowledged(tally, reserve)
            result = held.result
            if result is ReserveResult.aborted:  # a try died half-way; never acknowledged
                tally.aborted.add(rid)
                last_hold = None
            else:
                assert result in (ReserveResult.reserved, ReserveResult.already_exists)
                tally.held[rid] = sku
                last_hold = rid
        elif last_hold is not None:
            rid = last_hold
            commit = functools.partial(engine.reservations.commit, rid)
            committed = await _acknowledged(tally, commit)
            assert committed.result in (TransitionResult.applied, TransitionResult.duplicate)
            tally.committed.add(rid)
        step += 1


def _victim(cluster: ReplicatedCluster) -> tuple[int, list[int]]:
    """A master that does not hold ``{meta}`` (index), and the partitions it serves."""
    meta = cluster.master_of_key(keys.EPOCH)
    index = next(i for i, m in enumerate(cluster.masters) if m is not meta)
    port = cluster.masters[index].require_port()
    served = [
        p
        for p in range(LEDGER_PARTITIONS)
        if cluster.master_of_key(keys.stream(p)).require_port() == port
    ]
    return index, served


async def _held_twice(pool: asyncpg.Pool) -> list[str]:
    """Holds whose one line was reserved more often than released by a rollback."""
    rows = await pool.fetch(
        "SELECT reservation_id FROM ledger_events WHERE reservation_id LIKE 'h%'"
        " AND type IN ('reserved', 'rolled_back') GROUP BY reservation_id"
        " HAVING count(*) FILTER (WHERE type = 'reserved')"
        " - count(*) FILTER (WHERE type = 'rolled_back') > 1"
    )
    return [r["reservation_id"] for r in rows]


async def _check_ledger(
    engine: DurableEngine, pool: asyncpg.Pool, tally: Tally, skus: list[str]
) -> None:
    """On hand and reserved in Redis and in PostgreSQL are the acknowledged writes, each once."""
    reserved = Counter(tally.held.values())
    expected = {sku: (BASE + tally.adjusted[sku], reserved[sku]) for sku in skus}
    ledger = await engine.availability.positions(skus, [STORE])
    assert {p.sku: (p.on_hand, p.reserved) for p in ledger} == expected
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT sku, on_hand, reserved FROM positions WHERE location = $1", STORE
        )
        assert {r["sku"]: (r["on_hand"], r["reserved"]) for r in rows} == expected
        twice = await conn.fetch(
            "SELECT op_id FROM ledger_events WHERE type = 'adjusted' AND op_id LIKE 'a%'"
            " GROUP BY op_id HAVING count(*) > 1"
        )
        assert twice == []
        states = dict(await conn.fetch("SELECT id, state FROM reservations"))
    assert {rid: states.get(rid) for rid in tally.held} == {
        rid: "committed" if rid in tally.committed else "held" for rid in tally.held
    }


async def test_a_replica_promoted_under_load_loses_no_acknowledged_write(
    db: asyncpg.Pool, cluster: ReplicatedCluster
) -> None:
    index, partitions = _victim(cluster)
    skus = [sku_in([p], f"FO{p}-") for p in range(LEDGER_PARTITIONS)]
    engine = await DurableEngine.open(cluster.url, db, start_sweeper=False)
    tally, stop = Tally(), asyncio.Event()
    try:
        for sku in skus:
            await engine.stock.adjust(sku, STORE, BASE, "receipt", op_id=f"base-{sku}")
        writers = [
            asyncio.create_task(_write_on(engine, w, skus[w::WORKERS], tally, stop))
            for w in range(WORKERS)
        ]
        await asyncio.sleep(WARM_S)
        fault = await asyncio.to_thread(fail_over, cluster, index, partitions, WINDOW_S)
        before = tally.acknowledged
        for _ in range(int(ACK_DEADLINE_S / POLL_S)):  # until a write is acknowledged again
            if engine.ready and tally.acknowledged > before:
                break
            await asyncio.sleep(POLL_S)
        serving_s = time.monotonic() - fault.killed_s
        await asyncio.sleep(AFTER_S)
        stop.set()
        await asyncio.gather(*writers)
        window = await journaled_in_window(db, fault)
        journal = connect(cluster.url)  # seeded with a live master: the first one died
        try:
            await JournalWriter(journal, db, "failover-test").drain()
        finally:
            await journal.close()
        async with db.acquire() as conn:
            reasons = [
                r["reason"]
                for r in await conn.fetch("SELECT reason FROM ledger_epochs ORDER BY epoch")
            ]
        print(
            f"\nfailover: {tally.acknowledged} acknowledged, {window} journaled events in the"
            f" window (on no replica), replica promoted {fault.promoted_s:.2f}s and writes"
            f" served {serving_s:.2f}s after the kill, retried {dict(tally.retries)},"
            f" {len(tally.aborted)} holds rolled back, rebuilds {reasons}"
        )
        assert window > 0  # the failover did lose acknowledged writes from Redis
        assert reasons[-1] == "ledger behind"  # and the engine restored them from the journal
        assert not await _held_twice(db), "a hold cut between its leg and header held twice"
        async with db.acquire() as conn:
            assert await verify(engine.redis, conn) == []
        await _check_ledger(engine, db, tally, skus)
    finally:
        stop.set()
        await engine.close()


async def test_a_write_on_the_promoted_ledger_does_not_hide_what_it_lost(
    db: asyncpg.Pool, cluster: ReplicatedCluster
) -> None:
    """The replica is promoted at once (TAKEOVER) and something that does not wait for the
    journal (a plain engine: a sweeper's expiry, a hold with ``holds_durable=False``) writes
    into it before any durable process looks: the stream's last id is then newer than the
    journal's, yet the journaled writes of the window are missing. A durable process that
    starts then must still find the ledger behind the journal and rebuild it."""
    index, partitions = _victim(cluster)
    sku = sku_in(partitions, "FT")
    engine = await DurableEngine.open(cluster.url, db, start_sweeper=False)
    try:
        await engine.stock.adjust(sku, STORE, BASE, "receipt")
        lagging = asyncio.create_task(asyncio.to_thread(lag, cluster, index, WINDOW_S))
        receipts = 0
        while not lagging.done():  # acknowledged receipts the replica will not get
            await engine.stock.adjust(sku, STORE, 1, "receipt", op_id=f"t-{receipts}")
            receipts += 1
        await lagging
    finally:
        await engine.close()  # this process is gone before the master is
    fault = await asyncio.to_thread(kill_and_promote, cluster, index, partitions, True)
    assert await journaled_in_window(db, fault) > 0
    plain = Engine.connect(cluster.url)
    try:
        for _ in range(int(ACK_DEADLINE_S / POLL_S)):  # its map learns the promotion
            with contextlib.suppress(RedisError):
                await plain.stock.adjust(sku, STORE, 1, "receipt")
                break
            await asyncio.sleep(POLL_S)
    finally:
        await plain.close()
    engine = await DurableEngine.open(cluster.url, db, start_sweeper=False)
    try:
        position = await engine.availability.position(sku, STORE)
        async with db.acquire() as conn:
            reason = await conn.fetchval("SELECT reason FROM ledger_epochs ORDER BY epoch DESC")
            journaled = await conn.fetchval(
                "SELECT on_hand FROM positions WHERE sku = $1 AND location = $2", sku, STORE
            )
        assert reason == "ledger behind"
        # The journal's, not the promoted replica's: every acknowledged receipt.
        assert position.on_hand == journaled
        assert journaled == BASE + receipts
    finally:
        await engine.close()
