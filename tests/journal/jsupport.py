"""Helpers shared by the journal tests (databases, private Redis servers)."""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlparse, urlunparse

import asyncpg


async def fresh_database(dsn: str, name: str) -> str:
    """An empty database ``name`` (must start with atp_j_) on the server of ``dsn``."""
    assert name.startswith("atp_j_")
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
