"""Faults under load, bounded (issues 10 and 17): storefront reads, holds committed then
fulfilled or released, stock adjustments, register batches replayed until acknowledged,
and orders (placed and confirmed; pickups worked to ``picked_up``) against ``atp serve
--workers 2 --journal`` while, in turn, Redis is SIGKILLed and restarted empty every 10 s
(three times), PostgreSQL is SIGKILLed and restarted, an API worker is SIGKILLed, and a TCP
proxy between the engine and Redis adds delay and drops connections. Every 5xx, 409 asking
for a retry, dropped connection or timeout is retried with the same ids until acknowledged.
Redis is lost once more after the load, so every position is rebuilt from PostgreSQL.

Then the targets, all zero: acknowledged writes lost (a position not equal to the seed plus
what was acknowledged, a reservation or order not in its acknowledged state), applied
twice (every write sent again with its ids moves nothing and answers as before), a 5xx
other than 503 with Retry-After, a 401. A step refused when retried after a Redis loss
although its first try was applied (a retried settle of a reservation that ended before
the rebuild is answered from the journal since issue 17's fix; a commit still is not) is
settled by reading the reservation, counted and printed, not failed. ``/readyz`` and a
write must be back within ``Plan.within_s`` of each fault (a bound on the run, not a
figure asserted: those are bench.faults' to report). The scenario is bench/faults/scenario.py;
``python -m bench.faults`` runs it longer.

Private servers only (a Redis and a PostgreSQL of this test, on free loopback ports); every
process started is ended by its PID.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.faults.faults import Plan
from bench.faults.scenario import run
from support.journal import free_port
from support.servers import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.slow, pytest.mark.servers]

# The three Redis losses 10 s apart; the rest short, so the run stays near 90 s.
BOUNDED = Plan(clients=2, redis_kills=3, redis_every_s=10.0, pause_s=2.0, proxy_s=6.0)
API_PORTS = (7290, 7390)
LOADED_MIN = 300  # writes acknowledged under load: the load did run
RESERVATIONS_MIN, ORDERS_MIN = 20, 10


@pytest.fixture
async def servers() -> AsyncIterator[tuple[PrivateRedis, PrivatePostgres]]:
    redis = PrivateRedis()
    pg = PrivatePostgres()
    try:
        await asyncio.to_thread(redis.start)
        await asyncio.to_thread(pg.start)
        yield redis, pg
    finally:
        try:
            await asyncio.to_thread(redis.close)
        finally:
            await asyncio.to_thread(pg.close)


async def test_faults_under_load_lose_nothing_double_nothing_and_answer_well(
    servers: tuple[PrivateRedis, PrivatePostgres], tmp_path: Path
) -> None:
    redis, pg = servers
    port = free_port(*API_PORTS)
    outcome = await run(redis, redis.require_port(), pg, pg.dsn("atp"), port, tmp_path, BOUNDED)
    tally, verdict = outcome.tally, outcome.verdict
    print(
        f"\nfaults under load: {outcome.loaded} writes acknowledged in {outcome.load_s:.0f} s,"
        f" {tally.reads} reads, {tally.retries} retries, {len(tally.finished)} reservations,"
        f" {len(tally.orders)} orders, {outcome.dropped} connections dropped by the proxy,"
        f" statuses {dict(tally.statuses)}; serving again after {outcome.recoveries};"
        f" faults at {tally.timeline}; refused when retried yet applied (README: known"
        f" limitations): {verdict.refused_yet_applied}; orders not handed over whose hold"
        f" was fulfilled: {verdict.order_disagrees}"
    )
    assert not verdict.lost, (verdict.lost[:10], verdict.explained[:10])
    assert not verdict.applied_twice, verdict.applied_twice[:10]
    assert not tally.bad_5xx, tally.bad_5xx[:10]
    assert not tally.unauthorized and not verdict.unauthorized, (
        tally.unauthorized[:10],
        verdict.unauthorized,
    )
    assert not tally.failures, tally.failures[:20]
    assert outcome.loaded > LOADED_MIN and len(tally.finished) > RESERVATIONS_MIN
    assert len(tally.orders) > ORDERS_MIN
    assert {r.fault for r in outcome.recoveries} >= {"redis-3", "postgres", "api worker", "proxy"}
    assert outcome.dropped > 0 and tally.retries > 0  # the faults were felt
