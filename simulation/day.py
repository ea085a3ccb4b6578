"""One simulated day, start to end: the chain seeded, the engine started on the day's
clock, everyone's errands run until closing and the drain after it, the webhooks settled,
then the KPIs asked of the engine and recomputed from the log, and the checks."""

import asyncio
import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from atp.clock import SimulatedClock
from simulation import associates, back_office, registers, seeding, server, shoppers
from simulation.chain import Chain, chain, closing, opening
from simulation.config import DAY_STARTS_AT, DRAIN_MINUTES, DayConfig
from simulation.runtime import Sim

BOOT_ALLOWANCE_S: Final = 12.0  # real seconds for seeding and the engine's start
SETTLE_WAIT_S: Final = 30.0  # real seconds for deliveries, beyond the errands' longest wait
ERRAND_MINUTES_MAX: Final = 300  # simulated: the longest an errand sleeps (return, refund)
PROGRESS_STEPS: Final = 10
HTTP_TIMEOUT_S: Final = 30.0


@dataclass
class Outcome:
    sim: Sim
    chain: Chain
    api_kpis: dict[str, Any]
    asked_at: dt.datetime
    since: dt.datetime
    until: dt.datetime
    real_seconds: float
    late_flags: dict[str, bool]  # BOPIS orders not ready by their promise: flagged late?


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def _progress(sim: Sim) -> str:
    log = sim.log
    return (f"{sim.now():%H:%M} simulated: {len(log.orders)} orders, {len(log.register)} "
            f"register sales, {len(log.returns)} returns, {len(log.tickets)} tickets, "
            f"{len(log.sends)} alerts sent, {log.calls} calls")  # fmt: skip


async def _the_day(sim: Sim, say: Callable[[str], None]) -> None:
    config = sim.config
    opens, closes = opening(config), closing(config)
    regs = registers.start(sim)
    await registers.register_devices(sim, regs)
    shoppers.start(sim, opens, closes)
    associates.start(sim)
    for errand in (back_office.supply, back_office.promotion, back_office.new_refund_policy):
        sim.spawn(errand(sim))
    end = closes + dt.timedelta(minutes=DRAIN_MINUTES)
    step = (end - sim.now()) / PROGRESS_STEPS
    while sim.now() < end:
        await sim.until(min(end, sim.now() + step))
        say(_progress(sim))


async def _settle(sim: Sim) -> None:
    """Errands still under way finish; alert deliveries still pending are delivered."""
    deadline = time.monotonic() + SETTLE_WAIT_S + ERRAND_MINUTES_MAX * 60 / sim.config.rate
    while sim.tasks and (left := deadline - time.monotonic()) > 0:
        await asyncio.wait(set(sim.tasks), timeout=left)  # errands may spawn others
    if sim.tasks:
        sim.failures.append(f"{len(sim.tasks)} errands still under way when the day was settled")
        for task in list(sim.tasks):
            task.cancel()
    hooks = (await sim.call("GET", "/v1/webhooks"))["items"]
    for hook in hooks:
        while time.monotonic() < deadline:
            found = await sim.call("GET", f"/v1/webhooks/{hook['id']}/deliveries?state=pending")
            if not found["items"]:
                break
            await asyncio.sleep(0.2)


async def _late_flags(sim: Sim, now: dt.datetime) -> dict[str, bool]:
    """Each paid pickup not ready by its promise, as support sees it: flagged late?"""
    found = {}
    for o in sim.log.orders.values():
        promised = o.get("promised_at")
        if (
            o["id"] in sim.log.abandoned
            or not promised
            or o["method"] not in ("pickup", "curbside")
        ):
            continue
        ready = o.get("ready_at")
        due = dt.datetime.fromisoformat(promised)
        if (ready and dt.datetime.fromisoformat(ready) > due) or (not ready and due < now):
            answer = await sim.call("GET", f"/v1/support/lookup?q={o['id']}")
            pickup = answer["orders"][0].get("pickup") or {}
            found[o["id"]] = bool(pickup.get("late"))
    return found


async def run(
    config: DayConfig,
    *,
    port: int,
    redis_url: str,
    pg_dsn: str,
    workers: int = 1,
    say: Callable[[str], None] = lambda text: print(text, flush=True),
) -> Outcome:
    config = config.validate()
    started = time.monotonic()
    the_chain = chain(config)
    origin = config.at(DAY_STARTS_AT)
    clock = SimulatedClock(
        _ms(origin), int(time.time() * 1000 + BOOT_ALLOWANCE_S * 1000), config.rate
    )
    say(f"seeding {len(the_chain.stores)} stores, {len(the_chain.warehouses)} warehouses, "
        f"{len(the_chain.skus)} SKUs; the day {config.the_day()} runs {config.rate:g}x "
        f"(about {config.real_seconds:.0f} s)")  # fmt: skip
    key = await seeding.database(pg_dsn, the_chain)
    await seeding.ledger(redis_url, the_chain, clock)
    with server.engine(config, port, redis_url, pg_dsn, clock.spec(), workers):
        headers = {"Authorization": f"Bearer {key}"}
        base = f"http://{server.HOST}:{port}"
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=HTTP_TIMEOUT_S
        ) as http:
            sim = Sim(config, the_chain, clock, http, rng=random.Random(config.seed))
            sim.goods.physical.update(the_chain.stock)
            async with receiver_for(sim, port + 1) as url:
                shown = await seeding.over_http(http, the_chain, url)
                for surface, (policy, version) in shown.items():
                    sim.log.surface_policy[surface] = policy
                    sim.log.surfaces[surface] = sim.log.policy_versions[policy] = version
                await sim.until(origin)
                await _the_day(sim, say)
                await _settle(sim)
            since = dt.datetime.combine(config.the_day(), dt.time(), dt.UTC)
            until = since + dt.timedelta(days=1)
            asked_at = sim.now()
            query = f"from={since.isoformat()}&to={until.isoformat()}".replace("+00:00", "Z")
            api_kpis = await sim.call("GET", f"/v1/kpis?{query}")
            late = await _late_flags(sim, asked_at)
    return Outcome(
        sim, the_chain, api_kpis, asked_at, since, until, time.monotonic() - started, late
    )


def receiver_for(sim: Sim, port: int) -> Any:
    from simulation import receiver

    return receiver.serving(port, lambda data: back_office.alert_sent(sim, data))
