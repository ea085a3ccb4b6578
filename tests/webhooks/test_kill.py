"""A deliverer process SIGKILLed mid-stream and another started: every change reaches the
receiver at least once, none is skipped, each SKU's changes arrive in order, and every
attempt of a change carries its one webhook-id. The processes fan the feed out themselves
while changes are still being added."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from support.env import PG_DSN
from support.webhook_feed import add_changes, endpoint, until
from support.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("deliverer_process.py")
SPEED = 100  # the processes' clock: 5 s of backoff is 50 ms, a 60 s lease 0.6 s
SKUS, PER_SKU = 6, 40


def _start(base_ms: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), PG_DSN, str(base_ms), str(SPEED)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"started"
    return process


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.stdout is not None
    process.stdout.close()


async def _got(receiver: Receiver, count: int) -> bool:
    return len(receiver.delivered()) >= count


async def _waiting(receiver: Receiver) -> bool:
    return receiver.waiting > 0


async def _all_delivered(db: asyncpg.Pool, total: int) -> bool:
    done = await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'")
    return bool(done == total)


def _changes(first: int, count: int) -> list[dict[str, object]]:
    return [{"sku": f"SKU-{n % SKUS}", "data": {"n": n}} for n in range(first, first + count)]


async def test_sigkill_mid_stream_loses_nothing_and_keeps_order(
    db: asyncpg.Pool, receiver: Receiver
) -> None:
    total = SKUS * PER_SKU
    # The first attempt of every third change fails; the receiver takes a moment each.
    receiver.answer = lambda path, webhook_id, seen: 200 if seen or hash(webhook_id) % 3 else 500
    receiver.delay_s = 0.002
    await endpoint(db, receiver)
    await add_changes(db, *_changes(0, total // 2))
    base_ms = int(time.time() * 1000)
    first = await asyncio.to_thread(_start, base_ms)
    try:
        await until(lambda: _got(receiver, total // 4))
        await add_changes(db, *_changes(total // 2, total // 2))  # while it runs
        await until(lambda: _got(receiver, total // 2))
        receiver.flowing.clear()  # what is sent now stays in flight
        await until(lambda: _waiting(receiver))
        claimed = await db.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending' AND lease_owner <> ''"
        )
        assert claimed > 0
    finally:
        _kill(first)  # with claims held and requests in flight
    receiver.flowing.set()
    killed_at = len(receiver.received)
    second = await asyncio.to_thread(_start, base_ms)
    try:
        await until(lambda: _all_delivered(db, total))
    finally:
        _kill(second)

    assert killed_at < len(receiver.received)  # the second process did part of the work
    assert all(r.verified for r in receiver.received)
    ns_by_id: dict[str, set[int]] = {}
    for r in receiver.received:
        ns_by_id.setdefault(r.webhook_id, set()).add(r.payload["data"]["n"])
    assert all(len(ns) == 1 for ns in ns_by_id.values())  # one id, one change, every attempt
    assert len(ns_by_id) == total
    delivered = {r.payload["data"]["n"] for r in receiver.delivered()}
    assert delivered == set(range(total))  # none skipped
    assert any(r.status == 500 for r in receiver.received)  # retried, under the same id
    for sku in range(SKUS):
        ns = [
            r.payload["data"]["n"]
            for r in receiver.received
            if r.payload["data"]["sku"] == f"SKU-{sku}"
        ]
        assert ns == sorted(ns), (sku, ns)
