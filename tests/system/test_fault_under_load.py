"""Issue 10's fault run under load, bounded: concurrent clients hold, commit, fulfill or
release, adjust stock and replay register batches against ``atp serve --workers 2
--journal`` while Redis is SIGKILLed and restarted empty (three times, the last after the
load so every position is rebuilt from PostgreSQL), PostgreSQL is SIGKILLed once and one API
worker is SIGKILLed. Every 503, 409 ``request-in-flight``, dropped connection or timeout is
retried with the same ids and Idempotency-Keys until acknowledged.

Then: every write is sent again with its ids (every register event answers ``duplicate``)
and no position moves (0 applied twice); every position equals the seed plus what was
acknowledged (0 lost), nothing is left reserved; every key authenticates; every finished
reservation answers with its final state; ``/readyz`` was back within ``READY_WITHIN_S`` of
each fault; the server kept serving while a worker was replaced; no 500 anywhere.

Private servers only (a Redis and a PostgreSQL of this test, on free loopback ports); every
process started is ended by its PID.
"""

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from durability.db import create_database
from support.journal import PrivateRedis, free_port
from support.servers import PrivatePostgres

pytestmark = [pytest.mark.slow, pytest.mark.servers]

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SKUS = [f"FL-{i}" for i in range(8)]
WAREHOUSE, STORE = "W1", "S1"
SEED = 1_000_000  # per position: no hold is short, no sale oversells
DEVICES = ("till-1", "till-2")
ORDER_CLIENTS, ADJUST_CLIENTS = 3, 2  # and one client per register

START_WAIT_S = 30.0
READY_WITHIN_S = 15.0  # /readyz back after each fault
PAUSE_S = 2.5  # load between faults
PG_DOWN_S = 1.0
ACK_DEADLINE_S = 30.0  # after the load stops: every write still retried is acknowledged by then
REQUEST_TIMEOUT_S = 10.0
RETRY_SLEEP_S = 0.1
_STARTED = re.compile(r"(worker-\d+|journal) started \(pid (\d+)\)")
RETRIED = {500, 503}  # a 500 is a failure all the same


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    key: str
    body: Any = None
    idempotency_key: str | None = None


@dataclass
class Run:
    """What the server acknowledged, and everything unexpected it answered."""

    keys: dict[str, str]
    delta: Counter[tuple[str, str]] = field(default_factory=Counter)  # on hand, acknowledged
    writes: list[Write] = field(default_factory=list)
    finished: dict[str, str] = field(default_factory=dict)  # reservation -> final state
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    retries: int = 0
    deadline: float = float("inf")  # last moment a retry is allowed
    again: list[str] = field(default_factory=list)  # register events applied when sent again
    # Register event -> (its status when first acknowledged, seconds into the run, attempts).
    first_ack: dict[str, tuple[str, float, int]] = field(default_factory=dict)
    timeline: list[tuple[float, str]] = field(default_factory=list)  # faults
    t0: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        self.timeline.append((round(time.monotonic() - self.t0, 2), what))

    stop: asyncio.Event = field(default_factory=asyncio.Event)


def _problem(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("type", ""))
    return ""


async def send(client: httpx.AsyncClient, run: Run, w: Write) -> httpx.Response:
    """The write until acknowledged: 503, 409 request-in-flight, a 500, a dropped
    connection or a timeout is retried with the same ids (a 500 is recorded as a failure)."""
    headers = {"Authorization": f"Bearer {w.key}"}
    if w.idempotency_key is not None:
        headers["Idempotency-Key"] = w.idempotency_key
    while True:
        try:
            response = await client.request(w.method, w.path, json=w.body, headers=headers)
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        else:
            run.statuses[response.status_code] += 1
            if response.status_code == 500:
                run.failures.append(f"500 for {w.method} {w.path}: {response.text[:300]}")
            in_flight = response.status_code == 409 and _problem(response).endswith(
                "request-in-flight"
            )
            if response.status_code not in RETRIED and not in_flight:
                return response
            outcome = str(response.status_code)
        if time.monotonic() > run.deadline:
            raise AssertionError(f"never acknowledged: {w} (last: {outcome})")
        run.retries += 1
        await asyncio.sleep(RETRY_SLEEP_S)


def expect(run: Run, response: httpx.Response, w: Write, *ok: int) -> bool:
    if response.status_code in ok:
        return True
    run.failures.append(f"{response.status_code} for {w.method} {w.path}: {response.text[:300]}")
    return False


async def orders(client: httpx.AsyncClient, run: Run, c: int) -> None:
    """Hold (a client-chosen id), commit, then fulfill or release, each step acknowledged."""
    rng, key, i = random.Random(c), run.keys["oms"], 0
    while not run.stop.is_set():
        i += 1
        rid = f"R{c}-{i}"
        skus = rng.sample(SKUS, rng.randint(1, 2))
        lines: list[dict[str, Any]] = [
            {"sku": s, "location": WAREHOUSE, "qty": rng.randint(1, 3)} for s in skus
        ]
        hold = {"id": rid, "channel": "online", "lines": lines, "ttl_seconds": 900}
        steps = [
            (Write("POST", "/v1/reservations", key, hold, f"h-{rid}"), (200, 201)),
            (Write("POST", f"/v1/reservations/{rid}/commit", key, None, f"c-{rid}"), (200,)),
        ]
        end = "fulfill" if i % 2 else "release"
        steps.append(
            (Write("POST", f"/v1/reservations/{rid}/{end}", key, None, f"e-{rid}"), (200,))
        )
        for w, ok in steps:
            if not expect(run, await send(client, run, w), w, *ok):
                break
            run.writes.append(w)
        else:
            run.finished[rid] = "fulfilled" if end == "fulfill" else "released"
            if end == "fulfill":
                for line in lines:
                    run.delta[(line["sku"], WAREHOUSE)] -= line["qty"]


async def adjustments(client: httpx.AsyncClient, run: Run, c: int) -> None:
    rng, key, i = random.Random(100 + c), run.keys["oms"], 0
    while not run.stop.is_set():
        i += 1
        sku, location = rng.choice(SKUS), rng.choice((WAREHOUSE, STORE))
        delta, reason = (rng.randint(1, 3), "receipt") if i % 4 else (-1, "damage")
        body = {"sku": sku, "location": location, "delta": delta, "reason": reason}
        w = Write("POST", "/v1/stock/adjustments", key, body, f"a{c}-{i}")
        if expect(run, await send(client, run, w), w, 200):
            run.writes.append(w)
            run.delta[(sku, location)] += delta


async def register(client: httpx.AsyncClient, run: Run, device: str) -> None:
    """Batches of sales and returns, each event with its own id and a rising device_seq."""
    rng, key, seq = random.Random(device), run.keys["register"], 0
    while not run.stop.is_set():
        events: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 4)):
            seq += 1
            kind = "sale" if rng.random() < 0.7 else "return"
            events.append(
                {
                    "type": kind,
                    "event_id": f"{device}-e{seq}",
                    "device_seq": seq,
                    "occurred_at": "2026-12-03T10:00:00Z",
                    "sku": rng.choice(SKUS),
                    "location": STORE,
                    "qty": rng.randint(1, 2),
                }
            )
        w = Write("POST", f"/v1/pos/{device}/events", key, {"events": events})
        retries = run.retries
        response = await send(client, run, w)
        attempts = 1 + run.retries - retries  # other clients' retries may count too
        if not expect(run, response, w, 200):
            continue
        run.writes.append(w)
        statuses = [r["status"] for r in response.json()["results"]]
        if any(s not in ("applied", "duplicate") for s in statuses):  # duplicate: a retry
            run.failures.append(f"register batch {events[0]['event_id']}: {statuses}")
            continue
        at = round(time.monotonic() - run.t0, 2)
        for e, status in zip(events, statuses, strict=True):
            run.first_ack[e["event_id"]] = (status, at, attempts)
        for e in events:
            sign = -1 if e["type"] == "sale" else 1
            run.delta[(e["sku"], STORE)] += sign * e["qty"]


# -- the server and its faults -------------------------------------------------------------


def started(log: Path) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in _STARTED.finditer(log.read_text(errors="replace"))]


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def atp_serve(tmp: Path, redis_url: str, pg_dsn: str, port: int) -> Iterator[Path]:
    """``atp serve --workers 2 --journal``; on the way out SIGTERM, then SIGKILL of it and of
    every child it reported starting (by PID)."""
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_PG_DSN": pg_dsn,
        "ATP_RATE_LIMIT_PER_S": "0",
        "ATP_ACCESS_LOG": "off",
        "ATP_STATE_DIR": str(tmp / "state"),
    }
    for name in ("PROMETHEUS_MULTIPROC_DIR", "ATP_ENV", "ATP_AUTH"):
        env.pop(name, None)
    log = tmp / "serve.log"
    command = [sys.executable, "-m", "cli.main", "serve", "--workers", "2", "--journal"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield log
        assert server.poll() is None, f"atp serve exited: {tail(log)}"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        for _, pid in started(log):  # read once the server can start no more
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


async def ready_after(base: str, since: float) -> float:
    """Seconds from ``since`` until /readyz answers 200 three times running on new
    connections (so likely from both workers); fails beyond READY_WITHIN_S."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=2.0, limits=limits) as probe:
        running = 0
        while running < 3:
            elapsed = time.monotonic() - since
            assert elapsed < READY_WITHIN_S, f"/readyz not back {elapsed:.1f} s after the fault"
            try:
                ok = (await probe.get("/readyz")).status_code == 200
            except httpx.TransportError:
                ok = False
            running = running + 1 if ok else 0
            await asyncio.sleep(0.05 if ok else 0.1)
    return time.monotonic() - since


async def cli(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (args, err.decode())
    return out.decode().strip()


async def positions(client: httpx.AsyncClient, key: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(on hand, reserved) of every position, read from Redis (consistency=strong)."""
    found = {}
    for sku in SKUS:
        r = await client.get(
            f"/v1/availability/{sku}",
            params=[("location", WAREHOUSE), ("location", STORE), ("consistency", "strong")],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, r.text
        for row in r.json()["rows"]:
            found[(row["sku"], row["location"])] = (row["on_hand"], row["reserved"])
    return found


@pytest.fixture
async def servers() -> AsyncIterator[tuple[PrivateRedis, PrivatePostgres]]:
    redis = PrivateRedis(free_port())
    pg = PrivatePostgres()
    try:
        redis.start()
        await asyncio.to_thread(pg.start)
        yield redis, pg
    finally:
        try:
            redis.stop()
        finally:
            await asyncio.to_thread(pg.close)


async def test_a_fault_run_under_load_loses_nothing_and_doubles_nothing(
    servers: tuple[PrivateRedis, PrivatePostgres], tmp_path: Path
) -> None:
    redis, pg = servers
    dsn = pg.dsn("atp")
    await create_database(dsn)
    await cli("migrate", "--pg-dsn", dsn)
    keys = {
        "admin": await cli("keys", "create", "--scope", "admin", "--pg-dsn", dsn),
        "oms": await cli(
            *("keys", "create", "--scope", "availability:read", "--scope", "stock:write"),
            *("--scope", "reservations:write", "--name", "oms", "--pg-dsn", dsn),
        ),
        "register": await cli(
            *("keys", "create", "--scope", "availability:read", "--scope", "stock:write"),
            *("--location", STORE, "--name", "till", "--pg-dsn", dsn),
        ),
    }
    port = free_port(7290, 7390)
    base = f"http://{HOST}:{port}"
    run = Run(keys)
    ready_s: dict[str, float] = {}
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    with atp_serve(tmp_path, redis.url, dsn, port) as log:
        async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
            ready_s["start"] = await _started(base, log)
            await _seed(client, run)

            clients = [orders(client, run, c) for c in range(ORDER_CLIENTS)]
            clients += [adjustments(client, run, c) for c in range(ADJUST_CLIENTS)]
            clients += [register(client, run, d) for d in DEVICES]
            load = asyncio.gather(*clients)
            try:
                await _faults(base, redis, pg, log, run, ready_s)
            finally:
                run.stop.set()
                run.deadline = time.monotonic() + ACK_DEADLINE_S
                await load
            loaded = len(run.writes)

            # Redis lost once more, after the load: every position now comes from PostgreSQL.
            run.note("load stopped; redis-3 killed")
            await asyncio.to_thread(redis.kill)
            await asyncio.to_thread(redis.start)
            ready_s["redis-3 (after the load)"] = await ready_after(base, time.monotonic())
            before = await positions(client, keys["oms"])
            await _send_everything_again(client, run)
            after = await positions(client, keys["oms"])

            expected = {
                (sku, loc): (SEED + run.delta[(sku, loc)], 0)
                for sku in SKUS
                for loc in (WAREHOUSE, STORE)
            }
            moved = {p: (before[p], after[p]) for p in before if before[p] != after[p]}
            lost = {p: (before[p], v) for p, v in expected.items() if before[p] != v}
            assert not moved and not lost, (
                f"sent again with their ids, writes moved (before, after): {moved}; "
                f"after the last rebuild, before sending again (found, expected): {lost}; "
                f"answers: {run.failures[:10]}; "
                f"the journal of those register events: {await _journal_of(dsn, run)}; "
                f"their first acknowledgement: {[run.first_ack[e] for e in run.again]}; "
                f"faults: {run.timeline}"
            )
            await _keys_authenticate(client, keys)
            await _finished_reservations_answer(client, run)
    print(
        f"\nfault run: {loaded} writes acknowledged under load, {run.retries} retries, "
        f"{len(run.finished)} reservations finished, statuses {dict(run.statuses)}, "
        f"/readyz back after { ({k: round(v, 2) for k, v in ready_s.items()}) }; "
        f"faults at {run.timeline}; unexpected answers: {run.failures[:5]}"
    )
    assert not run.failures, run.failures[:20]
    assert 500 not in run.statuses
    assert loaded > 200 and len(run.finished) > 20  # the load did run
    assert run.retries > 0  # and the faults were felt


async def _started(base: str, log: Path) -> float:
    since = time.monotonic()
    deadline = since + START_WAIT_S
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as probe:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get("/readyz")).status_code == 200:
                    return time.monotonic() - since
            assert time.monotonic() < deadline, tail(log)
            await asyncio.sleep(0.1)


async def _seed(client: httpx.AsyncClient, run: Run) -> None:
    admin = run.keys["admin"]
    for device in DEVICES:
        w = Write("PUT", f"/v1/pos/devices/{device}", admin, {"location": STORE})
        assert (await send(client, run, w)).status_code in (200, 201)
    for sku in SKUS:
        for location in (WAREHOUSE, STORE):
            body = {"sku": sku, "location": location, "delta": SEED, "reason": "receipt"}
            w = Write("POST", "/v1/stock/adjustments", admin, body, f"seed-{sku}-{location}")
            r = await send(client, run, w)
            assert r.status_code == 200, r.text


async def _faults(
    base: str,
    redis: PrivateRedis,
    pg: PrivatePostgres,
    log: Path,
    run: Run,
    ready_s: dict[str, float],
) -> None:
    """Each fault in turn, under load; /readyz back within READY_WITHIN_S of each."""
    await asyncio.sleep(PAUSE_S)
    run.note("redis-1 killed")
    await asyncio.to_thread(redis.kill)
    await asyncio.to_thread(redis.start)  # empty: it keeps nothing on disk
    ready_s["redis-1"] = await ready_after(base, time.monotonic())
    run.note("ready")
    await asyncio.sleep(PAUSE_S)

    run.note("postgres killed")
    await asyncio.to_thread(pg.kill)
    await asyncio.sleep(PG_DOWN_S)
    await asyncio.to_thread(pg.start)
    ready_s["postgres"] = await ready_after(base, time.monotonic())
    run.note("ready")
    await asyncio.sleep(PAUSE_S)

    run.note("redis-2 killed")
    await asyncio.to_thread(redis.kill)
    await asyncio.to_thread(redis.start)
    ready_s["redis-2"] = await ready_after(base, time.monotonic())
    run.note("ready")
    await asyncio.sleep(PAUSE_S)

    workers = [(name, pid) for name, pid in started(log) if name.startswith("worker-")]
    name, victim = workers[-1]
    killed_at = time.monotonic()
    run.note(f"{name} killed")
    os.kill(victim, signal.SIGKILL)
    while _alive(victim):  # its socket goes with it: the kernel then routes to the other
        assert time.monotonic() - killed_at < READY_WITHIN_S
        await asyncio.sleep(0.02)
    # The other worker keeps the port: requests on new connections keep being answered.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=5.0, limits=limits) as fresh:
        statuses = [(await fresh.get("/healthz")).status_code for _ in range(20)]
    assert statuses == [200] * 20, statuses
    ready_s["worker"] = await ready_after(base, killed_at)
    while [pid for n, pid in started(log) if n == name][-1] == victim:  # replaced
        assert time.monotonic() - killed_at < READY_WITHIN_S, tail(log)
        await asyncio.sleep(0.1)
    assert f"{name} (pid {victim}) died" in tail(log, 0)
    await asyncio.sleep(PAUSE_S)


async def _send_everything_again(client: httpx.AsyncClient, run: Run) -> None:
    """Every acknowledged write again, with its ids: each answers as acknowledged before,
    and every register event is a duplicate."""
    run.deadline = time.monotonic() + ACK_DEADLINE_S
    gate = asyncio.Semaphore(8)

    async def again(w: Write) -> None:
        async with gate:
            r = await send(client, run, w)
        if r.status_code not in (200, 201):
            run.failures.append(f"again: {r.status_code} for {w.method} {w.path}: {r.text[:300]}")
        elif "/v1/pos/" in w.path:
            results = r.json()["results"]
            run.again.extend(e["event_id"] for e in results if e["status"] != "duplicate")
            statuses = {e["status"] for e in results}
            if statuses != {"duplicate"}:
                run.failures.append(f"register batch sent again: {r.text} for {w.body}")
        elif w.idempotency_key is not None and r.headers.get("idempotent-replayed") != "true":
            run.failures.append(f"not replayed: {w} answered {r.status_code} {r.text[:300]}")

    await asyncio.gather(*(again(w) for w in run.writes))


async def _journal_of(dsn: str, run: Run) -> list[tuple[Any, ...]]:
    """What PostgreSQL holds of the register events that were applied again."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT device_event, type, partition, stream_ms, stream_seq, ts_ms, on_hand"
            " FROM ledger_events WHERE device_event = ANY($1::text[])"
            " ORDER BY stream_ms, stream_seq",
            run.again[:20],
        )
        epochs = await conn.fetch("SELECT epoch, reason, started_at FROM ledger_epochs")
    finally:
        await conn.close()
    return [tuple(r) for r in rows] + [tuple(e) for e in epochs]


async def _keys_authenticate(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    for name, key in keys.items():
        r = await client.get(
            f"/v1/availability/{SKUS[0]}",
            params={"location": STORE},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, (name, r.status_code, r.text)


async def _finished_reservations_answer(client: httpx.AsyncClient, run: Run) -> None:
    headers = {"Authorization": f"Bearer {run.keys['oms']}"}
    gate = asyncio.Semaphore(8)

    async def state(rid: str) -> tuple[int, str]:
        async with gate:
            r = await client.get(f"/v1/reservations/{rid}", headers=headers)
        return r.status_code, r.json().get("state", "") if r.status_code == 200 else r.text

    found = await asyncio.gather(*(state(rid) for rid in run.finished))
    wrong = {
        rid: answer
        for rid, answer in zip(run.finished, found, strict=True)
        if answer != (200, run.finished[rid])
    }
    assert not wrong, f"{len(wrong)} of {len(run.finished)}: {list(wrong.items())[:10]}"
