"""``atp serve --workers 2 --journal`` as the fault run starts it, the PIDs it reports, and
how long it takes to serve again after a fault: ``/readyz`` answering 200 three times
running, and a write acknowledged."""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.faults.load import SKUS, STORE, Tally, Write, send

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
API_WORKERS = 2
START_WAIT_S = 30.0
STOP_WAIT_S = 20.0
PROBE_TIMEOUT_S = 2.0
PROBE_SLEEP_S = 0.05
READY_RUNNING = 3  # answers in a row on new connections, so likely from both workers
_STARTED = re.compile(r"(worker-\d+|journal) started \(pid (\d+)\)")


def started(log: Path) -> list[tuple[str, int]]:
    """(name, pid) of every worker and journal process ``atp serve`` reported starting."""
    return [(m[1], int(m[2])) for m in _STARTED.finditer(log.read_text(errors="replace"))]


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def atp_serve(tmp: Path, redis_url: str, pg_dsn: str, port: int) -> Iterator[Path]:
    """The server; on the way out SIGTERM, then SIGKILL of it and of every child it
    reported starting (by PID). Yields its log."""
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
    command = [sys.executable, "-m", "cli.main", "serve", "--workers", str(API_WORKERS)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--journal", "--host", HOST, "--port", str(port)],
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
            server.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=STOP_WAIT_S)
        for _, pid in started(log):  # read once the server can start no more
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


async def wait_started(base: str, log: Path) -> float:
    since = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=PROBE_TIMEOUT_S) as probe:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await probe.get("/readyz")).status_code == 200:
                    return time.monotonic() - since
            assert time.monotonic() - since < START_WAIT_S, tail(log)
            await asyncio.sleep(2 * PROBE_SLEEP_S)


async def ready_after(base: str, since: float, within_s: float) -> float:
    """Seconds from ``since`` until /readyz answers 200 READY_RUNNING times running on new
    connections; fails beyond ``within_s``."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=PROBE_TIMEOUT_S, limits=limits) as probe:
        running, last = 0, ""
        while running < READY_RUNNING:
            elapsed = time.monotonic() - since
            assert elapsed < within_s, f"/readyz not back {elapsed:.1f} s after the fault: {last}"
            try:
                answer = await probe.get("/readyz")
                ok, last = answer.status_code == 200, answer.text
            except httpx.TransportError as exc:
                ok, last = False, repr(exc)
            running = running + 1 if ok else 0
            await asyncio.sleep(PROBE_SLEEP_S if ok else 2 * PROBE_SLEEP_S)
    return time.monotonic() - since


async def write_after(base: str, tally: Tally, since: float, name: str, within_s: float) -> float:
    """Seconds from ``since`` until a stock receipt of one unit is acknowledged (sent with
    the same Idempotency-Key until it is; kept in the tally like any other write)."""
    body = {"sku": SKUS[0], "location": STORE, "delta": 1, "reason": "receipt"}
    w = Write("POST", "/v1/stock/adjustments", tally.keys["oms"], body, f"probe-{name}")
    saved = tally.deadline
    tally.deadline = min(saved, since + within_s)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=PROBE_TIMEOUT_S) as probe:
            response = await send(probe, tally, w)
    finally:
        tally.deadline = saved
    assert response.status_code == 200, f"probe write after {name}: {response.text}"
    tally.writes.append(w)
    tally.delta[(SKUS[0], STORE)] += 1
    return time.monotonic() - since


async def back_after(
    base: str, tally: Tally, since: float, name: str, within_s: float
) -> tuple[float, float]:
    """(readyz, a write) seconds after the fault at ``since``."""
    ready, write = await asyncio.gather(
        ready_after(base, since, within_s), write_after(base, tally, since, name, within_s)
    )
    return ready, write
