"""The head office's day: purchase orders for the empty shelves and their receipts (which
fire the back-in-stock alerts), a promotion on the best sellers, a new refund policy and
the surfaces catching up with it, and the shoppers an alert brings back."""

import datetime as dt
from typing import Any

from simulation import seeding, shoppers
from simulation.chain import CURRENCY, closing, opening
from simulation.log import Json
from simulation.runtime import Sim

SUPPLY_UNITS = 6
REORDER_POINT = 1  # units on the shelf (not set aside) at which a store reorders
REORDER_EVERY_HOURS = 2
ARRIVAL_HOURS = (2.0, 5.0)  # a purchase order's truck arrives within this, uniform
PROMOTED_SKUS = 3
PROMOTION_SHARE = 0.8  # the promotion's price, of the list price
LAGGING_SURFACE = "support_macro"  # republished two hours after the policy changed


async def supply(sim: Sim) -> None:
    """Replenishment rounds: at opening and every few hours, each store shelf the chain
    carries that is down to its reorder point gets a purchase order (incoming supply, due
    today); the trucks arrive hours later, and their receipts fire the back-in-stock
    alerts of whoever signed up meanwhile."""
    opens, closes = opening(sim.config), closing(sim.config)
    on_order: set[tuple[str, str]] = set()
    at = opens + dt.timedelta(minutes=30)
    while at < closes - dt.timedelta(hours=ARRIVAL_HOURS[1]):
        await sim.until(at)
        low = [key for key in sim.chain.stock
               if key not in on_order and sim.goods.on_floor(*key) <= REORDER_POINT]  # fmt: skip
        for sku, store in low:
            on_order.add((sku, store))
            supply_id = sim.next_id("po")  # the purchase order's number: a retry is a no-op
            body = {"sku": sku, "location": store, "qty": SUPPLY_UNITS, "supply_id": supply_id,
                    "expected_at": sim.now().date().isoformat()}  # fmt: skip
            await sim.call("POST", "/v1/stock/incoming", body)
            sim.log.supplies += 1
            arrives = sim.now() + dt.timedelta(hours=sim.rng.uniform(*ARRIVAL_HOURS))
            sim.spawn(receive(sim, supply_id, sku, store, arrives, on_order))
        at += dt.timedelta(hours=REORDER_EVERY_HOURS)


async def receive(
    sim: Sim, supply_id: str, sku: str, store: str, at: dt.datetime,
    on_order: set[tuple[str, str]],
) -> None:  # fmt: skip
    await sim.until(at)
    with sim.goods.moving(sku, store):
        found = await sim.call(
            "POST", f"/v1/stock/incoming/{supply_id}/receive", {"sku": sku, "location": store}
        )
        sim.goods.physical[sku, store] += found["received"]
    on_order.discard((sku, store))
    sim.log.receipts += 1


async def promotion(sim: Sim) -> None:
    """Announced at 11:00 for 12:30-17:00 on the best sellers."""
    opens = opening(sim.config)
    await sim.until(opens + dt.timedelta(hours=3))
    starts, ends = opens + dt.timedelta(hours=4.5), opens + dt.timedelta(hours=9)
    for sku in sim.chain.skus[:PROMOTED_SKUS]:
        body = {
            "list_price": str(sku.price),
            "currency": CURRENCY,
            "promotion": {"price": str((sku.price * 8 / 10).quantize(sku.price)),
                          "from": starts.isoformat(), "to": ends.isoformat()},
        }  # fmt: skip
        await sim.call("PUT", f"/v1/prices/{sku.id}", body)


async def new_refund_policy(sim: Sim) -> None:
    """At 13:00 refunds are promised sooner; every surface quoting the policy follows at
    once but the support macro, two hours later (a defect meanwhile)."""
    await sim.until(opening(sim.config) + dt.timedelta(hours=5))
    current = await sim.call("GET", "/v1/policies/refunds")
    terms: dict[str, Any] = dict(current["terms"])
    terms["initiate_within_days"] = max(1, int(terms["initiate_within_days"]) - 2)
    saved = await sim.call("PUT", "/v1/policies/refunds", {"terms": terms, "text": current["text"]})
    sim.log.policy_versions["refunds"] = saved["version"]
    for surface in [s for s, p in sim.log.surface_policy.items() if p == "refunds"]:
        if surface != LAGGING_SURFACE:
            sim.log.surfaces[surface] = (await seeding.publish(sim.http, surface))[1]
    await sim.wait(120)
    if LAGGING_SURFACE in sim.log.surfaces:
        sim.log.surfaces[LAGGING_SURFACE] = (await seeding.publish(sim.http, LAGGING_SURFACE))[1]


def alert_sent(sim: Sim, data: Json) -> None:
    """The messaging tool received an alert.triggered: the shopper may come back for it."""
    if data.get("resend") and data["send_id"] in sim.log.sends:
        sim.log.sends[data["send_id"]]["resent_at"] = data["sent_at"]  # the resend's time
    else:
        sim.log.sends[data["send_id"]] = data
    email = str(data.get("contact", {}).get("email", ""))
    if data.get("resend") or not email.startswith("shopper"):
        return
    if sim.rng.random() >= sim.config.alert_conversion_share:
        return
    n = int(email.removeprefix("shopper").split("@")[0])
    store = data.get("scope", {}).get("location") or sim.rng.choice(sim.chain.stores).id
    sim.spawn(_come_back(sim, n, str(store), str(data["sku"]), str(data["send_id"])))


async def _come_back(sim: Sim, n: int, store: str, sku: str, send_id: str) -> None:
    await sim.wait(sim.rng.uniform(5, 90))
    if sim.now() < closing(sim.config):
        await shoppers.order(sim, n, store, [sku], send_id)
