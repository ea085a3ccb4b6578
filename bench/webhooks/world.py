"""What both phases stand on: the benchmark's database with one endpoint on the receiver,
the receiver process, and the feed's rows written in bulk (as the feed's writer would)."""

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec

from durability.db import Conn
from webhooks.endpoints import Filters, register

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PATH = "/hook"

_ADD_CHANGES = """
INSERT INTO changes (seq, type, sku, location, channel, data, ts_ms)
SELECT n, 'availability_changed', 'SKU-' || (n % $2), 'OSLO-1', 'online',
    '{"sku":"SKU-' || (n % $2) || '","location":"OSLO-1","channel":"online",'
    || '"atp_before":' || n || ',"atp_after":' || (n + 1)
    || ',"cause":"adjusted","at":"2026-12-03T22:00:00.123Z"}',
    $3
FROM generate_series($1 + 1, $1 + $4) AS n
"""


async def add_changes(conn: Conn, count: int, skus: int) -> None:
    start = await conn.fetchval("SELECT COALESCE(max(seq), 0) FROM changes")
    await conn.execute(_ADD_CHANGES, start, skus, int(time.time() * 1000), count)


async def add_endpoint(conn: Conn, port: int) -> str:
    """Returns its secret. Loopback: allowed as in development."""
    url = f"http://{HOST}:{port}{PATH}"
    _, secret = await register(conn, url, Filters(["availability_changed"]), True)
    return secret


@contextlib.contextmanager
def receiver(port: int, secret: str, fail_ratio: float, seed: int = 1) -> Iterator[int]:
    """The receiver process, answering; yields its pid."""
    command = [sys.executable, "-m", "bench.webhooks.receiver", str(port), secret]
    process = subprocess.Popen([*command, str(fail_ratio), str(seed)], cwd=ROOT)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                stats(port)
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the receiver did not start")
        yield process.pid
    finally:
        process.terminate()
        process.wait()


class Stats(msgspec.Struct, frozen=True):
    received: list[tuple[str, int]]
    unverified: int


def stats(port: int, start: int = 0) -> Stats:
    with urllib.request.urlopen(f"http://{HOST}:{port}/stats?from={start}", timeout=10) as r:
        return msgspec.json.decode(r.read(), type=Stats)
