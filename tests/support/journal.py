"""Helpers shared by the durability suites: a fresh PostgreSQL database, a killable private
Redis on ports 7200-7289, and a mix of every kind of write to journal and rebuild."""

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import date
from urllib.parse import urlparse, urlunparse

import asyncpg

from atp.clock import ManualClock
from engine.local import Engine
from reservations.model import Line
from support.machine import ensure_postgres


async def fresh_database(dsn: str, name: str) -> str:
    """An empty database ``name`` (must start with atp_j_) on the server of ``dsn``."""
    assert name.startswith("atp_j_")
    await asyncio.to_thread(ensure_postgres, dsn)
    admin = urlunparse(urlparse(dsn)._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return urlunparse(urlparse(dsn)._replace(path=f"/{name}"))


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the server dies with the test process even if that is killed -9.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class PrivateRedis:
    """A redis-server on a loopback port 7200-7289 that keeps nothing on disk; killable."""

    def __init__(self, port: int) -> None:
        assert 7200 <= port < 7290
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="atp-j-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 10
        while _free(self.port):
            assert time.monotonic() < deadline, "private redis did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: whatever was in memory is gone."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port(low: int = 7200, high: int = 7289) -> int:
    for port in range(low, high):
        if _free(port):
            return port
    raise RuntimeError("no free port in 7200-7289")


async def mixed_ops(engine: Engine, clock: ManualClock) -> None:
    """Every kind of stock and reservation write, ending with a swept expiry."""
    stock, res = engine.stock, engine.reservations
    for i in range(20):
        await stock.adjust(f"SKU-{i}", "S1", 10 + i, "receipt", op_id=f"op-{i}")
        await stock.adjust(f"SKU-{i}", "W1", 100, "receipt")
    await stock.set_safety("SKU-1", "S1", 2)
    await stock.set_on_hand("SKU-2", "S1", 7, reason="cycle_count")
    await stock.add_incoming("SKU-3", "W1", "PO-1", 50, date(2027, 1, 5))
    await stock.add_incoming("SKU-3", "W1", "PO-2", 5, date(2027, 1, 9))
    await stock.remove_incoming("SKU-3", "W1", "PO-2")
    lines = [Line("SKU-4", "S1", 2), Line("SKU-5", "S1", 1), Line("SKU-6", "W1", 3)]
    assert (await res.reserve("R-held", "online", lines, 600)).ok
    assert (await res.reserve("R-commit", "online", lines, 600)).ok
    assert (await res.commit("R-commit")).ok
    assert (await res.reserve("R-part", "store", lines, 600)).ok
    assert (await res.commit("R-part")).ok
    assert (await res.fulfill("R-part", [Line("SKU-4", "S1", 1)], op_id="f-1")).ok
    assert (await res.release("R-part", [Line("SKU-6", "W1", 3)])).ok
    assert (await res.reserve("R-done", "online", lines, 600)).ok
    assert (await res.commit("R-done")).ok
    assert (await res.fulfill("R-done")).ok
    assert (await res.reserve("R-rel", "online", [Line("SKU-7", "S1", 1)], 600)).ok
    assert (await res.release("R-rel")).ok
    short = await res.reserve(
        "R-short", "online", [Line("SKU-8", "S1", 1), Line("SKU-9", "S1", 999)]
    )
    assert not short.ok  # leaves reserved + rolled_back events behind
    assert (await res.reserve("R-exp", "online", [Line("SKU-10", "S1", 1)], 1)).ok
    clock.advance(10_000)
    await engine.sweeper.sweep_once()
