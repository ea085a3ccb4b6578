"""`atp serve` supervises its processes: a worker that dies is replaced while the other
keeps the port, a crash loop gives up, SIGTERM stops every process; `--journal` runs the
journal consumer beside the workers, so what only the consumer writes (expiries) reaches
PostgreSQL without anyone running `atp journal`.

Every server is a real `atp serve` on a free loopback port, against the test Redis and a
PostgreSQL database of this test's own; every process started is ended by its PID.
"""

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest

from cli import supervisor as serve
from cli.main import build_parser
from cli.supervisor import RestartBudget, Role, Server
from support.env import PG_DSN, REDIS_URL
from support.journal import fresh_database

ROOT = Path(__file__).resolve().parents[2]
_STARTED = re.compile(r"(worker-\d+|journal) started \(pid (\d+)\)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def own_database(suffix: str) -> str:
    """A fresh, migrated database named after the test database (parallel runs differ)."""
    name = f"{urlparse(PG_DSN).path.lstrip('/')}_{suffix}"
    dsn = asyncio.run(fresh_database(PG_DSN, name))
    subprocess.run(
        [sys.executable, "-m", "cli.main", "migrate", "--pg-dsn", dsn],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return dsn


def started(log: Path) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in _STARTED.finditer(log.read_text())]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def get(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        status: int = reply.status
        return status


def post(port: int, path: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        answer: dict[str, object] = json.loads(reply.read())
        return answer


@contextlib.contextmanager
def atp_serve(tmp: Path, dsn: str, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {
        **os.environ,
        "ATP_REDIS_URL": REDIS_URL,
        "ATP_PG_DSN": dsn,
        "ATP_ENV": "development",
        "ATP_AUTH": "off",
        "ATP_STATE_DIR": str(tmp / "state"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), *extra],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield server, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        kill_all([pid for _, pid in started(log)])  # read once the server can start no more


def wait_for(predicate: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_restart_budget_refuses_a_crash_loop() -> None:
    budget = RestartBudget(restarts_max=3, window_s=60.0)
    assert all(budget.allow(t) for t in (0.0, 1.0, 2.0))
    assert not budget.allow(3.0)  # a fourth death within the minute: give up
    assert budget.allow(61.5)  # the first restart has left the window


def test_a_crash_loop_gives_up_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    crashing = Server([Role("worker-0", os._exit, (3,))], RestartBudget(2, 60.0))
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        crashing.start()
        assert serve.supervise(crashing, duration_s=30) == 1
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
        kill_all([p.pid for p in crashing.processes if p.pid is not None])
    err = capsys.readouterr().err
    assert err.count("died with exit code 3") == 3 and "crash loop; giving up" in err


def test_serve_options_for_supervision_and_access_log() -> None:
    args = build_parser().parse_args(["serve", "--journal", "--no-access-log"])
    assert args.journal and args.access_log is False


def test_a_killed_worker_is_replaced_while_the_other_serves(redis_url: str, tmp_path: Path) -> None:
    dsn = own_database("serve")
    with atp_serve(tmp_path, dsn, "--workers", "2") as (server, port):
        assert serve.wait_ready("127.0.0.1", port, 30), (tmp_path / "serve.log").read_text()
        log = tmp_path / "serve.log"
        wait_for(lambda: len(started(log)) == 2, 10)
        first = dict(started(log))
        victim = first["worker-0"]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not alive(victim), 5)
        # The other worker keeps the port: every request on a new connection succeeds.
        statuses = [get(port, "/healthz") for _ in range(40)]
        assert statuses == [200] * 40
        wait_for(lambda: len(started(log)) == 3, 20)
        name, replacement = started(log)[-1]
        assert name == "worker-0" and replacement != victim and alive(replacement)
        assert f"pid {victim}" in log.read_text()  # the death is logged
        wait_for(lambda: serve.wait_ready("127.0.0.1", port, 1), 20)
        assert server.poll() is None
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not any(alive(pid) for _, pid in started(log))
        # Requests were logged by the workers, one JSON line each.
        lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
        assert any(json.loads(line)["route"] == "/healthz" for line in lines)


def _reservation_state(dsn: str, reservation: str) -> str | None:
    async def read() -> str | None:
        conn = await asyncpg.connect(dsn)
        try:
            state: str | None = await conn.fetchval(
                "SELECT state FROM reservations WHERE id = $1", reservation
            )
            return state
        finally:
            await conn.close()

    return asyncio.run(read())


def test_serve_journal_keeps_postgresql_in_step(redis_url: str, tmp_path: Path) -> None:
    dsn = own_database("serve_journal")
    with atp_serve(tmp_path, dsn, "--journal", "--no-access-log") as (server, port):
        assert serve.wait_ready("127.0.0.1", port, 30), (tmp_path / "serve.log").read_text()
        log = tmp_path / "serve.log"
        wait_for(lambda: "journal" in dict(started(log)), 10)
        post(port, "/v1/stock/adjustments", {"sku": "J-1", "location": "S1", "delta": 5,
                                              "reason": "receipt"})  # fmt: skip
        hold = {"id": "exp-1", "channel": "online", "ttl_seconds": 1,
                "lines": [{"sku": "J-1", "location": "S1", "qty": 2}]}  # fmt: skip
        post(port, "/v1/reservations", hold)
        # Only the journal consumer writes the sweeper's expiry into PostgreSQL.
        wait_for(lambda: _reservation_state(dsn, "exp-1") == "expired", 20)
        verify = subprocess.run(
            [sys.executable, "-m", "cli.main", "verify", "--pg-dsn", dsn, "--redis-url", REDIS_URL],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stdout
        journal = dict(started(log))["journal"]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not alive(journal)
        assert not [line for line in log.read_text().splitlines() if line.startswith("{")]
