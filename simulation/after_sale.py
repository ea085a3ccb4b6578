"""What follows a paid order: the warehouse or store ships it (the OMS), its customer may
contact support, and once it is delivered may return it at another store, whose refund
the back office initiates later. Pickup orders are staged by the store's associates
(simulation/associates.py), who hand them over when the customer comes."""

from typing import Any

from simulation import support
from simulation.chain import closing
from simulation.log import Json
from simulation.runtime import Sim

CARRIER = "posten"
RETURN_REASONS = ("changed_mind", "wrong_size", "changed_mind", "not_as_described")


def follow(sim: Sim, order: Json) -> None:
    if order["method"] == "ship":
        sim.spawn(ship(sim, order))
    if sim.rng.random() < sim.config.ticket_share:
        sim.spawn(support.contact(sim, order, sim.rng.uniform(20, 180)))


async def ship(sim: Sim, order: Json) -> None:
    """Each planned shipment leaves its location within the next hours."""
    for shipment in order["shipments"]:
        await sim.wait(sim.rng.uniform(20, 120))
        box = {
            "id": sim.next_id("box"),
            "location": shipment["location"],
            "lines": shipment["lines"],
            "carrier": CARRIER,
            "tracking": sim.next_id("TRK"),
        }
        order = await sim.call("POST", f"/v1/orders/{order['id']}/shipments", box)
        sim.log.order(order)
        sim.goods.leave(order, shipment["location"])
    delivered(sim, order)


def delivered(sim: Sim, order: Json) -> None:
    if sim.rng.random() < sim.config.return_share:
        sim.spawn(give_back(sim, order))


async def give_back(sim: Sim, order: Json) -> None:
    """The customer brings one line back to another store, later in the day."""
    await sim.wait(sim.rng.uniform(30, 180))
    if sim.now() >= closing(sim.config):
        return
    elsewhere = [s.id for s in sim.chain.stores if s.id != order.get("location")]
    store = sim.rng.choice(elsewhere)
    line = sim.rng.choice(order["lines"])
    condition = "opened" if sim.rng.random() < 0.3 else "new"
    body: dict[str, Any] = {
        "id": sim.next_id("ret"),
        "order_id": order["id"],
        "location": store,
        "lines": [{"sku": line["sku"], "qty": 1, "reason": sim.rng.choice(RETURN_REASONS),
                   "condition": condition}],
    }  # fmt: skip
    found = await sim.call("POST", "/v1/returns", body)
    sim.log.returns[found["id"]] = found
    sim.goods.physical[line["sku"], store] += 1  # sellable again, on this store's floor
    await sim.wait(sim.rng.uniform(5, 240))  # the back office's refund run
    refunded = await sim.call("POST", f"/v1/returns/{found['id']}/refund")
    sim.log.returns[refunded["id"]] = refunded
