"""The machine's Redis and PostgreSQL, checked (and started if down) on first use only.

Nothing here runs at session start: a test reaches these through a fixture (``redis_url``,
``jredis_url``, ``pg_dsn``, ...) or ``fresh_database``, so the pure-core tests run with
both servers stopped. Each server is checked once per process; a failure is remembered and
raised again at once for every later test, so a missing server fails fast, never hangs.

Only the machine's default servers (loopback 6379, loopback 5432) are started when down; a
URL naming any other address that does not answer is an error that names the variable.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import redis

CONNECT_TIMEOUT_S = 2.0
START_WAIT_S = 10.0
POLL_S = 0.1
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_REDIS_PORT = 6379
DEFAULT_PG_PORT = 5432

_failed: dict[tuple[str, str, int], str] = {}  # (kind, host, port) -> why, once it failed
_up: set[tuple[str, str, int]] = set()


def _once(kind: str, host: str, port: int, check: Callable[[], None]) -> None:
    key = (kind, host, port)
    if key in _up:
        return
    if key in _failed:  # checked before: fail at once, the same way
        raise RuntimeError(_failed[key])
    try:
        check()
    except Exception as error:
        _failed[key] = str(error) if isinstance(error, RuntimeError) else repr(error)
        raise
    _up.add(key)


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
        return True
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


def ensure_redis(url: str) -> None:
    """The Redis of ``url`` answers PING; the machine's default one is started if down."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or DEFAULT_REDIS_PORT

    def check() -> None:
        if _redis_answers(url):
            return
        if host not in LOOPBACK or port != DEFAULT_REDIS_PORT:
            raise RuntimeError(f"no Redis answers at {url} (ATP_TEST_REDIS_URL)")
        if shutil.which("redis-server") is None:
            raise RuntimeError(f"no Redis answers at {url} and redis-server is not installed")
        options = ["--port", str(port), "--save", "", "--appendonly", "no"]
        subprocess.run(["redis-server", "--daemonize", "yes", *options], check=True)
        deadline = time.monotonic() + START_WAIT_S
        while not _redis_answers(url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server was started but {url} does not answer")
            time.sleep(POLL_S)

    _once("redis", host, port, check)


def _pg_answers(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(CONNECT_TIMEOUT_S)
        return s.connect_ex((host, port)) == 0


def ensure_postgres(dsn: str) -> None:
    """The PostgreSQL of ``dsn`` accepts connections; the machine's cluster is started if
    down (tests never skip for it)."""
    parsed = urlparse(dsn)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or DEFAULT_PG_PORT

    def check() -> None:
        if _pg_answers(host, port):
            return
        if host not in LOOPBACK or port != DEFAULT_PG_PORT:
            raise RuntimeError(f"no PostgreSQL answers at {host}:{port} (ATP_TEST_PG_DSN)")
        etc = Path("/etc/postgresql")
        versions = sorted(os.listdir(etc)) if etc.is_dir() else []
        if not versions or shutil.which("pg_ctlcluster") is None:
            raise RuntimeError("PostgreSQL is down and no local cluster to start was found")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
            check=True,
        )
        deadline = time.monotonic() + START_WAIT_S
        while not _pg_answers(host, port):
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL was started but does not accept connections")
            time.sleep(POLL_S)

    _once("postgres", host, port, check)
