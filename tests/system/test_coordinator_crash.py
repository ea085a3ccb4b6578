"""The coordinator dies midway through a reservation; the sweeper and retries finish it.

Deaths are simulated deterministically by running only some of the coordinator's steps
(reservations/calls.py), on the local Redis and on the private 3-master cluster; the last
test SIGKILLs a real child process running reservations and checks the whole ledger.
Run as a script, this module is that child (see ``child_main``).
"""

import asyncio
import contextlib
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from atp import keys
from atp.clock import ManualClock
from atp.events import read_all_events
from atp.limits import LEDGER_PARTITIONS, LEG_EXPIRY_GRACE_MS
from atp.model import Channel, Event
from atp.redis_cluster import ClusterRedis
from atp.scripts import load_script
from engine.local import Engine
from reservations import calls
from reservations.expiry import resolve_leg
from reservations.model import (
    Line,
    ReserveResult,
    State,
    TransitionResult,
    lines_by_partition,
    make_request,
)
from support.invariants import check_ledger
from support.servers import PrivateRedis

LOC = "DC1"
TTL_S = 60
TTL_MS = TTL_S * 1000
LEG_DEADLINE_MS = TTL_MS + LEG_EXPIRY_GRACE_MS
SWEEPS_MAX = 20  # sweeps until nothing is due; each resolves up to EXPIRY_SWEEP_BATCH_MAX
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.servers  # ``backend`` asks for its server by name, unseen by conftest


@dataclass(frozen=True)
class Backend:
    name: str
    url: str  # the engine's URL
    scan_urls: list[str]  # every Redis holding ledger keys, for tests/support/invariants.py


@pytest.fixture(params=["single", pytest.param("cluster", marks=pytest.mark.slow)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Local Redis (ATP_TEST_REDIS_URL, emptied) or the private cluster (every master
    emptied). The cluster is started only when a cluster case runs."""
    if request.param == "single":
        url = request.getfixturevalue("redis_url")
        return Backend("single", url, [url])
    cluster_url = request.getfixturevalue("cluster_url")
    cluster = request.getfixturevalue("redis_cluster")
    return Backend("cluster", cluster_url, cluster.master_urls)


@pytest.fixture
async def crash_engine(backend: Backend, clock: ManualClock) -> AsyncIterator[Engine]:
    eng = Engine.connect(backend.url, clock)
    # A cold cluster client may apply a concurrent burst twice (tests/system/test_cluster.py).
    await eng.redis.command("PING")
    yield eng
    await eng.close()


def skus_in_distinct_partitions(count: int, prefix: str) -> list[str]:
    chosen: dict[int, str] = {}
    for i in range(10_000):
        sku = f"{prefix}-{i}"
        chosen.setdefault(keys.partition_of_sku(sku), sku)
        if len(chosen) == count:
            return sorted(chosen.values())
    raise AssertionError("not enough partitions")


async def stock(engine: Engine, skus: Sequence[str], on_hand: int) -> None:
    for sku in skus:
        await engine.stock.adjust(sku, LOC, on_hand, "receipt")


async def reserved(engine: Engine, skus: Sequence[str]) -> dict[str, int]:
    return {p.sku: p.reserved for p in await engine.availability.positions(list(skus), [LOC])}


async def reserve_legs_only(
    engine: Engine, rid: str, lines: list[Line], partitions: Sequence[int], now_ms: int
) -> None:
    """The coordinator's round trip 1 for some legs, then death: no rollback, no header."""
    request = make_request(rid, Channel.online, lines, TTL_S)
    legs = lines_by_partition(request.lines)
    for partition in partitions:
        reply = await calls.reserve_leg(
            engine.redis,
            rid,
            request.digest(),
            request.channel,
            partition,
            legs[partition],
            TTL_MS,
            now_ms,
        )
        assert reply[0] == "reserved"


async def sweep_all(engine: Engine) -> None:
    """Sweeps until no deadline before now is left in any partition."""
    now = engine.reservations.clock.now_ms()
    for _ in range(SWEEPS_MAX):
        await engine.sweeper.sweep_once()
        due = [await calls.due(engine.redis, p, now, 1) for p in range(LEDGER_PARTITIONS)]
        if not any(due):
            return
    raise AssertionError(f"deadlines still due after {SWEEPS_MAX} sweeps")


async def events_of(engine: Engine, rid: str) -> dict[int, list[Event]]:
    """Per partition, the events of one reservation, in order."""
    found: dict[int, list[Event]] = {}
    for partition, events in (await read_all_events(engine.redis)).items():
        mine = [e for e in events if e.reservation_id == rid]
        if mine:
            found[partition] = mine
    return found


def three_lines(prefix: str) -> tuple[list[str], list[Line]]:
    skus = skus_in_distinct_partitions(3, prefix)
    return skus, [Line(sku, LOC, qty) for sku, qty in zip(skus, (2, 3, 4), strict=True)]


async def test_died_after_some_legs_the_sweeper_aborts_and_returns_units(
    backend: Backend, crash_engine: Engine, clock: ManualClock
) -> None:
    skus, lines = three_lines("AB")
    await stock(crash_engine, skus, 10)
    legs = lines_by_partition(lines)
    done, never = list(legs)[:2], list(legs)[2]
    await reserve_legs_only(crash_engine, "r-ab", lines, done, clock.now_ms())
    held = {ln.sku: ln.qty for p in done for ln in legs[p]}
    assert await reserved(crash_engine, skus) == {s: held.get(s, 0) for s in skus}
    assert await crash_engine.reservations.get("r-ab") is None
    check_ledger(backend.scan_urls)  # legs without a header: in flight, still consistent

    clock.advance(LEG_DEADLINE_MS - 1)
    await sweep_all(crash_engine)
    assert await reserved(crash_engine, skus) == {s: held.get(s, 0) for s in skus}
    clock.advance(1)
    await sweep_all(crash_engine)
    assert await reserved(crash_engine, skus) == dict.fromkeys(skus, 0)
    header, _ = await crash_engine.reservations.read("r-ab")
    assert header["st"] == "aborted"
    got = await crash_engine.reservations.get("r-ab")
    assert got is not None and got.state is State.aborted
    events = await events_of(crash_engine, "r-ab")
    for partition in done:
        expected = [("reserved", ln.sku, ln.qty) for ln in legs[partition]]
        expected += [("expired", ln.sku, -ln.qty) for ln in legs[partition]]
        assert [(e.type, e.sku, e.d_reserved) for e in events[partition]] == expected
    home = keys.partition_of_reservation("r-ab")
    header_events = [e.type for e in events[home] if not e.sku]
    assert header_events == ["reservation_aborted"]

    retry = await crash_engine.reservations.reserve("r-ab", "online", lines, TTL_S)
    assert retry.result is ReserveResult.aborted
    assert await reserved(crash_engine, skus) == dict.fromkeys(skus, 0)
    late = (await events_of(crash_engine, "r-ab")).get(never, [])  # held and rolled back,
    assert sum(e.d_reserved for e in late) == 0  # or never held: the engine's choice
    check_ledger(backend.scan_urls, resolved=True, now_ms=clock.now_ms())


async def test_died_after_some_legs_a_retry_completes_it_exactly_once(
    backend: Backend, crash_engine: Engine, clock: ManualClock
) -> None:
    skus, lines = three_lines("RT")
    await stock(crash_engine, skus, 10)
    legs = lines_by_partition(lines)
    started = clock.now_ms()
    await reserve_legs_only(crash_engine, "r-rt", lines, list(legs)[:2], started)
    clock.advance(TTL_MS // 2)  # later than the grace: the old legs fall due first
    retry = await crash_engine.reservations.reserve("r-rt", "online", lines, TTL_S)
    assert retry.result is ReserveResult.reserved
    quantities = {ln.sku: ln.qty for ln in lines}
    assert await reserved(crash_engine, skus) == quantities
    events = await events_of(crash_engine, "r-rt")
    reserved_events = [e.sku for es in events.values() for e in es if e.type == "reserved"]
    assert sorted(reserved_events) == skus

    clock.advance(started + LEG_DEADLINE_MS - clock.now_ms())  # the first legs' deadline
    await sweep_all(crash_engine)
    got = await crash_engine.reservations.get("r-rt")
    assert got is not None and got.state is State.held
    assert {ln.sku: ln.open for ln in got.lines} == quantities
    assert await reserved(crash_engine, skus) == quantities
    check_ledger(backend.scan_urls, resolved=True, now_ms=clock.now_ms())

    clock.advance(started + TTL_MS // 2 + TTL_MS - clock.now_ms())  # the header's deadline
    await sweep_all(crash_engine)
    assert await reserved(crash_engine, skus) == dict.fromkeys(skus, 0)
    got = await crash_engine.reservations.get("r-rt")
    assert got is not None and got.state is State.expired
    events = await events_of(crash_engine, "r-rt")
    expired_events = [e.sku for es in events.values() for e in es if e.type == "expired"]
    assert sorted(expired_events) == skus
    clock.advance(LEG_EXPIRY_GRACE_MS)
    await sweep_all(crash_engine)
    check_ledger(backend.scan_urls, resolved=True, now_ms=clock.now_ms())


@pytest.mark.parametrize("fulfil_first", [False, True], ids=["swept", "fulfilled-first"])
async def test_died_after_header_commit_legs_roll_forward(
    backend: Backend, crash_engine: Engine, clock: ManualClock, fulfil_first: bool
) -> None:
    skus, lines = three_lines("HC")
    await stock(crash_engine, skus, 10)
    reservations = crash_engine.reservations
    assert (await reservations.reserve("r-hc", "online", lines, TTL_S)).ok
    assert (await calls.header_commit(crash_engine.redis, "r-hc", clock.now_ms()))[0] == "applied"
    _, legs = await reservations.read("r-hc")
    assert {leg["st"] for leg in legs.values()} == {"held"}
    quantities = {ln.sku: ln.qty for ln in lines}
    if fulfil_first:  # a fulfill follows the header, not the lagging legs
        assert (await reservations.fulfill("r-hc")).result is TransitionResult.applied
        quantities = dict.fromkeys(skus, 0)

    clock.advance(TTL_MS)  # past the header's deadline: a committed hold does not expire
    await sweep_all(crash_engine)
    assert await reserved(crash_engine, skus) == quantities
    clock.advance(LEG_EXPIRY_GRACE_MS)  # the legs' deadline: the sweeper rolls them forward
    await sweep_all(crash_engine)
    assert await reserved(crash_engine, skus) == quantities
    _, legs = await reservations.read("r-hc")
    assert {leg["st"] for leg in legs.values()} == {"closed" if fulfil_first else "committed"}
    got = await reservations.get("r-hc")
    assert got is not None
    if not fulfil_first:
        assert got.state is State.committed
        assert (await reservations.fulfill("r-hc")).result is TransitionResult.applied
    positions = await crash_engine.availability.positions(skus, [LOC])
    assert [(p.on_hand, p.reserved) for p in positions] == [(8, 0), (7, 0), (6, 0)]
    got = await reservations.get("r-hc")
    assert got is not None and got.state is State.fulfilled
    check_ledger(backend.scan_urls, resolved=True, now_ms=clock.now_ms())


async def test_died_after_header_expiry_a_later_commit_completes_it(
    backend: Backend, crash_engine: Engine, clock: ManualClock
) -> None:
    skus, lines = three_lines("HX")
    await stock(crash_engine, skus, 10)
    reservations = crash_engine.reservations
    assert (await reservations.reserve("r-hx", "online", lines, TTL_S)).ok
    clock.advance(TTL_MS)
    assert (await calls.header_expire(crash_engine.redis, "r-hx", clock.now_ms()))[0] == "applied"
    quantities = {ln.sku: ln.qty for ln in lines}
    assert await reserved(crash_engine, skus) == quantities  # the legs lag their header
    got = await reservations.get("r-hx")
    assert got is not None and got.state is State.expired
    commit = await reservations.commit("r-hx")
    assert commit.result is TransitionResult.expired  # and it completes the expiry
    assert await reserved(crash_engine, skus) == dict.fromkeys(skus, 0)


async def test_died_after_header_expiry_without_callers_the_sweeper_completes_it(
    backend: Backend, crash_engine: Engine, clock: ManualClock
) -> None:
    skus, lines = three_lines("HY")
    await stock(crash_engine, skus, 10)
    assert (await crash_engine.reservations.reserve("r-hy", "online", lines, TTL_S)).ok
    clock.advance(TTL_MS)
    assert (await calls.header_expire(crash_engine.redis, "r-hy", clock.now_ms()))[0] == "applied"
    await sweep_all(crash_engine)  # the header left the expiry index; the legs are not due
    assert await reserved(crash_engine, skus) == {ln.sku: ln.qty for ln in lines}
    clock.advance(LEG_EXPIRY_GRACE_MS)
    await sweep_all(crash_engine)
    assert await reserved(crash_engine, skus) == dict.fromkeys(skus, 0)
    count_before = sum(len(es) for es in (await events_of(crash_engine, "r-hy")).values())
    clock.advance(LEG_DEADLINE_MS)
    await sweep_all(crash_engine)
    events = await events_of(crash_engine, "r-hy")
    assert sum(len(es) for es in events.values()) == count_before
    expired = sorted(e.sku for es in events.values() for e in es if e.type == "expired")
    assert expired == skus
    header_events = [e.type for es in events.values() for e in es if not e.sku]
    assert header_events == ["reservation_held", "reservation_expired"]
    check_ledger(backend.scan_urls, resolved=True, now_ms=clock.now_ms())


@pytest.mark.parametrize(
    "picked",
    [
        pytest.param("some", id="some-lines"),
        pytest.param("every", id="every-line-named"),
        pytest.param("all-open", id="all-open"),
    ],
)
async def test_fulfil_retried_after_the_coordinator_died_is_a_duplicate(
    backend: Backend, crash_engine: Engine, picked: str
) -> None:
    """The fulfill ran on every leg, the process died before replying; the caller retries
    the same request with the same op id and must get ``duplicate``, nothing applied."""
    skus, lines = three_lines("FR")
    await stock(crash_engine, skus, 10)
    reservations = crash_engine.reservations
    assert (await reservations.reserve("r-fr", "online", lines, TTL_S)).ok
    assert (await reservations.commit("r-fr")).ok
    asked = {
        "some": [lines[0], Line(skus[1], LOC, 1)],  # a whole line and part of another
        "every": lines,
        "all-open": None,
    }[picked]
    first = await reservations.fulfill("r-fr", asked, op_id="pick-1")
    assert first.result is TransitionResult.applied
    before = await crash_engine.availability.positions(skus, [LOC])
    again = await reservations.fulfill("r-fr", asked, op_id="pick-1")
    assert await crash_engine.availability.positions(skus, [LOC]) == before
    assert again.result is TransitionResult.duplicate, again.detail


PAUSE_MS = 10_000  # CLIENT PAUSE bound, should the test fail before it unpauses
BLOCKED_WAIT_S = 5.0


async def _wait_blocked(control: "redis.Redis[str]", count: int) -> None:
    deadline = time.monotonic() + BLOCKED_WAIT_S
    while int(control.info("clients")["blocked_clients"]) < count:
        assert time.monotonic() < deadline, f"expected {count} clients held by CLIENT PAUSE"
        await asyncio.sleep(0.005)


async def _resume_order_is_fifo(control: "redis.Redis[str]") -> bool:
    """Whether Redis resumes the writes CLIENT PAUSE held in the order it held them (not
    documented, so measured)."""
    probes = [redis.asyncio.Redis.from_url(control_url(control)) for _ in range(2)]
    control.client_pause(PAUSE_MS, all=False)
    try:
        pushes = []
        for i, probe in enumerate(probes):
            pushes.append(asyncio.create_task(probe.rpush("pause-order", i)))
            await _wait_blocked(control, i + 1)
    finally:
        control.client_unpause()
    await asyncio.gather(*pushes)
    for probe in probes:
        await probe.aclose()
    order = control.lrange("pause-order", 0, -1)
    control.delete("pause-order")
    return order == ["0", "1"]


async def _interleave(
    control: "redis.Redis[str]",
    reader: Callable[[], Awaitable[Any]],
    interloper: Callable[[], Awaitable[Any]],
) -> tuple[asyncio.Task[Any], asyncio.Task[Any]]:
    """Runs ``reader`` (some reads, then a write) so that ``interloper``'s write lands
    between its reads and its write: CLIENT PAUSE WRITE lets the reads through and holds
    both writes, which resume in the measured order."""
    fifo = await _resume_order_is_fifo(control)
    control.client_pause(PAUSE_MS, all=False)
    try:
        tasks: dict[str, asyncio.Task[Any]] = {}
        for name, call in [("interloper", interloper), ("reader", reader)][:: 1 if fifo else -1]:
            tasks[name] = asyncio.create_task(call())
            await _wait_blocked(control, len(tasks))
    finally:
        control.client_unpause()
    return tasks["reader"], tasks["interloper"]


def control_url(control: "redis.Redis[str]") -> str:
    kwargs = control.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}"


async def test_sweeper_racing_a_commit_keeps_the_committed_units(
    private_redis: PrivateRedis, clock: ManualClock
) -> None:
    """An extended hold: its legs fall due at the first deadline, while the header is still
    live. The sweeper reads the header 'held'; a coordinator commits the header and dies
    before its legs' commit; the sweeper's header_expire finds it committed. The legs must
    roll forward; the units must stay reserved. (CLIENT PAUSE pauses the whole server:
    a private one.)"""
    sweeper_engine = Engine.connect(private_redis.url, clock)
    coordinator = Engine.connect(private_redis.url, clock)
    control = private_redis.client()
    try:
        await stock(sweeper_engine, ["RACE"], 10)
        reservations = sweeper_engine.reservations
        assert (await reservations.reserve("r-race", "online", [Line("RACE", LOC, 3)], TTL_S)).ok
        clock.advance(TTL_MS - 10_000)
        assert (await reservations.extend("r-race", TTL_S)).ok
        clock.advance(10_000 + LEG_EXPIRY_GRACE_MS)  # the legs' first deadline: due
        await coordinator.redis.command("PING")
        for name in ("header_commit", "header_expire"):  # NOSCRIPT + EVAL would reorder them
            control.script_load(load_script("reservations.lua", name).source)
        partition = keys.partition_of_sku("RACE")
        sweep, commit = await _interleave(
            control,
            lambda: resolve_leg(reservations, "r-race", partition),
            lambda: calls.header_commit(coordinator.redis, "r-race", clock.now_ms()),
        )
        assert (await commit)[0] == "applied"
        await sweep
        got = await reservations.get("r-race")
        assert got is not None
        assert (got.state, got.lines[0].open) == (State.committed, 3)
        assert (await sweeper_engine.availability.position("RACE", LOC)).reserved == 3
    finally:
        control.close()
        await sweeper_engine.close()
        await coordinator.close()
    check_ledger([private_redis.url], resolved=True, now_ms=clock.now_ms())


# A real process death: a child process runs reservations and is SIGKILLed mid-run.

CHILD_WORKERS = 8  # reservations in flight at once, so a kill lands mid-protocol
CHILD_RESERVATIONS_MAX = 2_000  # per worker
CHILD_LIFETIME_S = 20.0  # the child ends by itself if nobody kills it
CHILD_READY_TIMEOUT_S = 30.0
CHILD_GONE_TIMEOUT_S = 10.0
KILL_ROUNDS = 3
ABUNDANT_ON_HAND = 1_000_000
SCARCE_ON_HAND = 6


def child_skus() -> tuple[list[str], str]:
    """Eight abundant SKUs in distinct partitions, and one scarce SKU."""
    return skus_in_distinct_partitions(8, "KILL"), "KILL-SCARCE"


async def _child_reservation(engine: Engine, rng: random.Random, rid: str) -> None:
    abundant, scarce = child_skus()
    picked = rng.sample(abundant, rng.randint(1, 4))
    lines = [Line(sku, LOC, rng.randint(1, 3)) for sku in picked]
    if rng.random() < 0.25:
        lines.append(Line(scarce, LOC, rng.randint(1, 3)))
    reservations = engine.reservations
    if not (await reservations.reserve(rid, "online", lines, TTL_S)).ok:
        return
    roll = rng.random()
    if roll < 0.4:
        await reservations.commit(rid)
        if roll < 0.2:
            await reservations.fulfill(rid, [Line(lines[0].sku, LOC, 1)], op_id=f"{rid}-f")
            await reservations.release(rid)
    elif roll < 0.6:
        await reservations.release(rid)
    elif roll < 0.7:
        await reservations.extend(rid, TTL_S)


async def _child_run(url: str, start_ms: int, seed: int, name: str) -> None:
    if url.startswith("redis+cluster://"):
        address = "redis://" + url.removeprefix("redis+cluster://")
        engine = Engine(
            ClusterRedis.from_url(address, client_name=name), ManualClock(start_ms=start_ms)
        )
        await engine.redis.command("PING")  # learns the slot map; its connections carry the name
    else:
        engine = Engine.connect(url, ManualClock(start_ms=start_ms))
        await engine.redis.command("CLIENT", "SETNAME", name)
    print("ready", flush=True)
    rng = random.Random(seed)
    deadline = time.monotonic() + CHILD_LIFETIME_S

    async def worker(w: int) -> None:
        for i in range(CHILD_RESERVATIONS_MAX):
            if time.monotonic() > deadline:
                return
            await _child_reservation(engine, rng, f"kill-{seed}-{w}-{i}")

    await asyncio.gather(*(worker(w) for w in range(CHILD_WORKERS)))
    await engine.close()


def child_main(argv: Sequence[str]) -> None:
    url, start_ms, seed, name = argv
    asyncio.run(_child_run(url, int(start_ms), int(seed), name))


def _start_child(url: str, start_ms: int, seed: int, name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    return subprocess.Popen(
        [sys.executable, __file__, url, str(start_ms), str(seed), name],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )


def _wait_ready(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], CHILD_READY_TIMEOUT_S)
    line = child.stdout.readline() if ready else ""
    assert line.strip() == "ready", f"child did not start (exit code {child.poll()})"


async def _wait_connections_gone(urls: Sequence[str], name: str) -> None:
    """Redis may still run commands the child wrote before it died: wait for its sockets
    to close so the ledger is read with no writer left."""
    deadline = time.monotonic() + CHILD_GONE_TIMEOUT_S
    while time.monotonic() < deadline:
        names = []
        for url in urls:
            with contextlib.closing(redis.Redis.from_url(url, decode_responses=True)) as r:
                names += [c.get("name", "") for c in r.client_list()]
        if name not in names:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the killed child's connections ({name}) did not close")


async def test_sigkilled_coordinator_leaves_a_ledger_the_sweeper_resolves(
    backend: Backend, crash_engine: Engine, clock: ManualClock
) -> None:
    abundant, scarce = child_skus()
    await stock(crash_engine, abundant, ABUNDANT_ON_HAND)
    await stock(crash_engine, [scarce], SCARCE_ON_HAND)
    base_seed = random.randrange(1_000_000)
    rng = random.Random(base_seed)
    for round_ in range(KILL_ROUNDS):
        seed, name = base_seed + round_, f"atp-crash-child-{os.getpid()}-{round_}"
        child = _start_child(backend.url, clock.now_ms(), seed, name)
        try:
            _wait_ready(child)
            kill_after_s = rng.uniform(0.05, 0.5)
            await asyncio.sleep(kill_after_s)
            assert child.poll() is None, "the child ended before it was killed"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=CHILD_GONE_TIMEOUT_S)
            if child.stdout is not None:
                child.stdout.close()
        context = f"seed {seed}, killed after {kill_after_s:.3f}s"
        await _wait_connections_gone(backend.scan_urls, name)
        before = check_ledger(backend.scan_urls)  # holds even with the coordinator dead
        assert before.header_states, context

        clock.advance(LEG_DEADLINE_MS + 1)  # the child's holds and legs are all past due
        await sweep_all(crash_engine)
        after = check_ledger(backend.scan_urls, resolved=True, now_ms=clock.now_ms())
        assert after.header_states["held"] == 0, context


if __name__ == "__main__":
    child_main(sys.argv[1:])
