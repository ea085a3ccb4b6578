"""Two engine processes sweep the same ledger: every hold expires once and only once."""

import asyncio
import collections
import sys

import pytest

from atp.events import read_all_events
from engine.local import Engine
from reservations.model import Line, State
from support.invariants_ledger import check_ledger_invariants

SWEEPER_SECONDS = 4
HOLDS = 60

_SWEEPER = """
import asyncio, sys
from engine.local import Engine

async def main():
    engine = Engine.connect(sys.argv[1])
    engine.sweeper.interval_s = 0.01
    engine.start()
    await asyncio.sleep(float(sys.argv[2]))
    await engine.close()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_two_processes_expire_each_hold_exactly_once(redis_url: str) -> None:
    engine = Engine.connect(redis_url)  # server time, as in production
    for sku in ("E1", "E2", "E3"):
        await engine.stock.adjust(sku, "S1", 1_000, "receipt")
    for i in range(HOLDS):
        lines = [Line("E1", "S1", 1), Line("E2" if i % 2 else "E3", "S1", 2)]
        assert (await engine.reservations.reserve(f"h{i}", "online", lines, ttl_s=1)).ok
    committed = [f"h{i}" for i in range(0, HOLDS, 10)]
    for rid in committed:
        assert (await engine.reservations.commit(rid)).ok
    sweepers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SWEEPER, redis_url, str(SWEEPER_SECONDS)
        )
        for _ in range(2)
    ]
    try:
        async with asyncio.timeout(SWEEPER_SECONDS + 20):
            codes = [await process.wait() for process in sweepers]
        assert codes == [0, 0]
    finally:
        for process in sweepers:
            if process.returncode is None:
                process.kill()
                await process.wait()
    events = [e for stream in (await read_all_events(engine.redis)).values() for e in stream]
    header_expiries = collections.Counter(
        e.reservation_id for e in events if e.type == "reservation_expired"
    )
    line_expiries = collections.Counter(
        (e.reservation_id, e.sku) for e in events if e.type == "expired"
    )
    expected = {f"h{i}" for i in range(HOLDS)} - set(committed)
    assert set(header_expiries) == expected and set(header_expiries.values()) == {1}
    assert len(line_expiries) == 2 * len(expected) and set(line_expiries.values()) == {1}
    for rid in committed:
        reservation = await engine.reservations.get(rid)
        assert reservation is not None and reservation.state is State.committed
    assert (await engine.reservations.commit("h1")).result.value == "expired"
    await check_ledger_invariants(engine.redis)
    e1 = await engine.availability.position("E1", "S1")
    assert e1.reserved == len(committed)
    await engine.close()
