"""Store associates working the pickup queue, earliest promise first: picking, staged,
ready, each pressed through the API as they do it on their handhelds; and the counter
handing a ready order over when its customer comes (some never come today)."""

import datetime as dt
import math

from simulation import after_sale
from simulation.chain import closing
from simulation.config import DRAIN_MINUTES
from simulation.log import Json
from simulation.runtime import Refused, Sim

IDLE_MINUTES = 2.0  # an associate with nothing to stage looks at the queue again after this
STAGE_SPREAD = 0.35  # lognormal sigma of one staging


async def associate(sim: Sim, store: str, claimed: set[str]) -> None:
    """Until closing (then the drain for what is already paid), one order at a time."""
    stop = closing(sim.config) + dt.timedelta(minutes=DRAIN_MINUTES)
    while sim.now() < stop:
        queue = await sim.call("GET", f"/v1/stores/{store}/pickups?state=confirmed")
        waiting = [o for o in queue["items"] if o["id"] not in claimed]
        if not waiting:
            await sim.wait(IDLE_MINUTES)
            continue
        order = waiting[0]
        claimed.add(order["id"])
        await stage(sim, order)


async def stage(sim: Sim, order: Json) -> None:
    oid = order["id"]
    await sim.call("POST", f"/v1/orders/{oid}/pickup/picking", {})
    median = sim.config.stage_minutes_median
    await sim.wait(median * math.exp(sim.rng.gauss(0, STAGE_SPREAD)))
    await sim.call("POST", f"/v1/orders/{oid}/pickup/staged", {})
    ready = await sim.call("POST", f"/v1/orders/{oid}/pickup/ready", {})
    sim.log.order(ready)
    if sim.rng.random() >= sim.config.no_show_share:
        sim.spawn(collect(sim, ready))


async def collect(sim: Sim, order: Json) -> None:
    """The customer comes (told by the order.ready message) and the counter hands it over."""
    await sim.wait(sim.rng.uniform(10, 150))
    if sim.now() >= closing(sim.config):
        return  # tomorrow
    try:
        done = await sim.call("POST", f"/v1/orders/{order['id']}/pickup/picked_up", {})
    except Refused as exc:
        if exc.problem != "step-out-of-order":
            raise
        return
    sim.log.order(done)
    sim.goods.leave(done)
    after_sale.delivered(sim, done)


def start(sim: Sim) -> None:
    for store in sim.chain.stores:
        claimed: set[str] = set()
        for _ in range(sim.config.associates_per_store):
            sim.spawn(associate(sim, store.id, claimed))
