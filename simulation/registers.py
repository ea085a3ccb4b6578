"""The stores' counters: walk-in customers buying what is on the floor (some give their
email for the receipt), registers that lose the network for a while and replay their
queue, units that go missing, and the associates' cycle counts that find them."""

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from simulation import shoppers
from simulation.chain import CURRENCY, closing, opening
from simulation.log import RegisterSale
from simulation.runtime import Refused, Sim

LOYALTY_SHARE = 0.4  # walk-ins who give an email for the receipt
SHRINK_PER_STORE = 2  # units that walk out unpaid over the day


class Register:
    def __init__(self, sim: Sim, store: str) -> None:
        self.sim, self.store, self.device = sim, store, f"REG-{store}"
        self.seq = 0
        self.offline_until: dt.datetime | None = None
        self.queue: list[tuple[dict[str, Any], RegisterSale]] = []
        self.cached_prices: dict[str, str] = {}
        # One customer at a time: a register's sequence numbers leave it in order.
        self.counter = asyncio.Lock()

    async def price(self, sku: str) -> str:
        """The price in force now; offline, the one it had when the network went."""
        if self.offline_until is None:
            self.cached_prices[sku] = str(
                (await self.sim.call("GET", f"/v1/prices/{sku}"))["price"]
            )
        elif sku not in self.cached_prices:  # never looked up: the shelf label's list price
            self.cached_prices[sku] = str(next(s.price for s in self.sim.chain.skus if s.id == sku))
        return self.cached_prices[sku]

    async def sell(self, sku: str) -> None:
        async with self.counter:
            await self._sell(sku)

    async def _sell(self, sku: str) -> None:
        sim = self.sim
        self.seq += 1
        price = await self.price(sku)
        shopper = sim.rng.randrange(sim.config.customers)
        known = sim.rng.random() < LOYALTY_SHARE  # the walk-in gives their email
        sale = RegisterSale(
            sim.next_id("pos"), self.store, sku, 1, sim.now(), self.offline_until is not None,
            price, shopper if known else None,
        )  # fmt: skip
        event: dict[str, Any] = {
            "type": "sale", "event_id": sale.event_id, "device_seq": self.seq,
            "occurred_at": sale.at.isoformat(), "sku": sku, "location": self.store, "qty": 1,
            "unit_price": price, "currency": CURRENCY,
        }  # fmt: skip
        if sale.shopper is not None:
            event["customer"] = {"email": shoppers.customer(sim, sale.shopper)["email"]}
        sim.goods.physical[sku, self.store] -= 1
        sim.log.register.append(sale)
        if self.offline_until is not None:
            self.queue.append((event, sale))
            sim.goods.busy[sku, self.store] += 1  # the ledger hears of it at the replay
            return
        with sim.goods.moving(sku, self.store):
            await self.replay([(event, sale)])

    async def replay(self, batch: list[tuple[dict[str, Any], RegisterSale]]) -> None:
        found = await self.sim.call(
            "POST", f"/v1/pos/{self.device}/events", {"events": [e for e, _ in batch]}
        )
        for (_, sale), result in zip(batch, found["results"], strict=True):
            sale.status, sale.oversold = result["status"], result.get("oversold", 0)

    async def outage(self, at: dt.datetime, minutes: float) -> None:
        """The network goes; sales queue; it comes back and the queue is replayed."""
        sim = self.sim
        await sim.until(at)
        self.offline_until = at + dt.timedelta(minutes=minutes)
        await sim.until(self.offline_until)
        async with self.counter:  # the queue leaves before the next sale's higher sequence
            self.offline_until = None
            queued, self.queue = self.queue, []
            if queued:
                await self.replay(queued)
        for event, _ in queued:
            sim.goods.busy[event["sku"], self.store] -= 1
        await self._price_check([s for _, s in queued], [e for e, _ in queued])

    async def _price_check(self, sales: list[RegisterSale], events: list[dict[str, Any]]) -> None:
        """The retailer's own audit: a queued sale at another price than in force then."""
        for sale, event in zip(sales, events, strict=True):
            then = await self.sim.call(
                "GET", f"/v1/prices/{sale.sku}?at={sale.at.isoformat().replace('+00:00', 'Z')}"
            )
            sold, in_force = Decimal(event["unit_price"]), Decimal(str(then["price"]))
            self.sim.log.price_mismatches += sold != in_force  # 199 and 199.00 agree


async def walk_in(sim: Sim, register: Register, at: dt.datetime) -> None:
    await sim.until(at)
    sku = shoppers.pick_skus(sim, 1)[0]
    if sim.goods.on_floor(sku, register.store) > 0:
        await register.sell(sku)


async def shrink(sim: Sim, store: str, at: dt.datetime) -> None:
    await sim.until(at)
    sku = sim.rng.choice(sim.chain.skus).id
    if sim.goods.on_floor(sku, store) > 0:
        sim.goods.physical[sku, store] -= 1


async def cycle_count(sim: Sim, register: Register, at: dt.datetime) -> None:
    """Counting one SKU's floor; the ledger is set to what was counted, if it did not move
    meanwhile (expected_on_hand); a count during an outage waits for the next one."""
    await sim.until(at)
    store = register.store
    sku = shoppers.pick_skus(sim, 1)[0]
    ranged = (sku, store) in sim.chain.stock
    if not ranged or register.offline_until is not None or not sim.goods.countable(sku, store):
        return
    row = (await sim.call("GET", f"/v1/availability/{sku}?location={store}"))["rows"][0]
    if register.offline_until is not None or not sim.goods.countable(sku, store):
        return
    counted = sim.goods.physical[sku, store]
    body = {"on_hand": counted, "expected_on_hand": row["on_hand"], "reason": "cycle count"}
    try:
        await sim.call("PUT", f"/v1/stock/{sku}/{store}", body)
    except Refused as exc:
        if exc.problem != "expected-mismatch":
            raise
        return
    sim.log.counts += 1
    sim.log.count_drift += abs(row["on_hand"] - counted)


def start(sim: Sim) -> list[Register]:
    opens, closes = opening(sim.config), closing(sim.config)
    span = (closes - opens).total_seconds()

    def moment() -> dt.datetime:
        return opens + dt.timedelta(seconds=sim.rng.uniform(0, span))

    registers = [Register(sim, s.id) for s in sim.chain.stores]
    for reg in registers:
        for _ in range(sim.config.walk_ins_per_store):
            sim.spawn(walk_in(sim, reg, moment()))
        for _ in range(SHRINK_PER_STORE):
            sim.spawn(shrink(sim, reg.store, moment()))
        for _ in range(sim.config.cycle_counts_per_store):
            sim.spawn(cycle_count(sim, reg, moment()))
    for reg in sim.rng.sample(registers, min(sim.config.offline_registers, len(registers))):
        start_at = opens + dt.timedelta(seconds=sim.rng.uniform(span * 0.2, span * 0.6))
        sim.spawn(reg.outage(start_at, sim.config.offline_minutes))
    return registers


async def register_devices(sim: Sim, registers: list[Register]) -> None:
    for reg in registers:
        await sim.call("PUT", f"/v1/pos/devices/{reg.device}", {"location": reg.store})
