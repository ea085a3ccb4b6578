"""The order flows of the locust file: shoppers place and pay online orders, associates
work their store's pickup queue, returners bring a shipped order back to another store.

Request names are the route templates (``/v1/orders/{id}/confirm``), so the CSV reads as
the API's routes; refusals a flow expects under load are counted under their own names
(bench/http/calls.py).
"""

import itertools
import random
from typing import Any

from locust import task

from bench.http import config
from bench.http.calls import ApiUser

UNIT_PRICE = 199.0
CUSTOMERS = 1000  # distinct customers the orders spread over
QUEUE_TAKEN_FROM = 5  # an associate takes one of the oldest few: two at one store rarely collide
# Another associate at the same store may press the same order first.
STEP_RACES = frozenset({"order-busy", "step-out-of-order"})
SHORT = frozenset({"insufficient-stock"})  # a store's shelf ran out under the load
PICKUP_STEPS = ("picking", "staged", "ready", "picked_up")
_associates = itertools.count()


def order_body(order_id: str, store: str | None, lines: int = 0) -> dict[str, Any]:
    """An online order of 1-2 SKUs, one unit each: collected at ``store``, or shipped."""
    n = random.randrange(CUSTOMERS)
    count = lines or random.randint(1, config.ORDER_LINES_MAX)
    body: dict[str, Any] = {
        "id": order_id,
        "channel": "online",
        "customer": {"id": f"cust-{n}", "email": f"c{n}@example.com"},
        "lines": [
            {"sku": sku, "qty": 1, "unit_price": UNIT_PRICE}
            for sku in random.sample(config.SKUS, count)
        ],
    }
    if store is None:
        return body | {"method": "ship", "ship_to": config.SHIP_TO}
    return body | {"method": "pickup", "location": store}


class OrderingUser(ApiUser):
    abstract = True

    def place_and_pay(self, store: str | None, lines: int = 0) -> dict[str, Any] | None:
        """POST /v1/orders then /confirm (payment captured): the confirmed order, or None."""
        body = order_body(config.new_id("lo"), store, lines)
        placed = self.call("POST", "/v1/orders", "/v1/orders", body, SHORT)
        if placed is None:
            return None
        return self.call(
            "POST", f"/v1/orders/{body['id']}/confirm", "/v1/orders/{order_id}/confirm"
        )


class Shopper(OrderingUser):
    """Places an online order, shipped or collected at a store (asking the pickup promise
    first), and pays for it."""

    role = "shopper"

    @task
    def order(self) -> None:
        if random.random() >= config.PICKUP_SHARE:
            self.place_and_pay(None)
            return
        store = random.choice(config.STORES)
        sku = random.choice(config.SKUS)
        self.call(
            "GET",
            f"/v1/pickup/promise?sku={sku}&location={store}",
            "/v1/pickup/promise",
            expected=frozenset({"no-pickup-promise"}),
        )
        self.place_and_pay(store)


class Associate(OrderingUser):
    """Works one store's pickup queue: takes a paid order and presses picking, staged,
    ready and picked_up. An empty queue gets a pickup order placed and paid there (a
    customer's), so the class also runs without shoppers."""

    role = "associate"

    def on_start(self) -> None:
        super().on_start()
        self.store = config.STORES[next(_associates) % len(config.STORES)]

    @task
    def work_the_queue(self) -> None:
        queue = self.call(
            "GET",
            f"/v1/stores/{self.store}/pickups?state=confirmed",
            "/v1/stores/{location}/pickups",
        )
        if queue is None:
            return
        items = queue.get("items") or []
        if items:
            order_id = random.choice(items[:QUEUE_TAKEN_FROM])["id"]
        else:
            paid = self.place_and_pay(self.store)
            if paid is None:
                return
            order_id = paid["id"]
        for step in PICKUP_STEPS:
            done = self.call(
                "POST",
                f"/v1/orders/{order_id}/pickup/{step}",
                f"/v1/orders/{{order_id}}/pickup/{step}",
                expected=STEP_RACES,
            )
            if done is None:
                return


class Returner(OrderingUser):
    """Orders online, has it shipped (every planned shipment leaves its location), then
    returns one unit at another store, which receives it; the refund is initiated."""

    role = "returner"

    @task
    def return_at_another_store(self) -> None:
        order = self.place_and_pay(None, lines=1)
        if order is None:
            return
        for planned in order["shipments"]:
            tracking = config.new_id("trk")
            shipment = {
                "location": planned["location"],
                "lines": planned["lines"],
                "carrier": "bring",
                "tracking": tracking,
            }
            shipped = self.call(
                "POST",
                f"/v1/orders/{order['id']}/shipments",
                "/v1/orders/{order_id}/shipments",
                shipment,
            )
            if shipped is None:
                return
        sources = {s["location"] for s in order["shipments"]}
        stores = [s for s in config.STORES if s not in sources] or config.STORES
        line = order["lines"][0]
        body = {
            "id": config.new_id("lr"),
            "order_id": order["id"],
            "location": random.choice(stores),
            "lines": [{"sku": line["sku"], "qty": 1, "reason": "changed_mind", "condition": "new"}],
        }
        if self.call("POST", "/v1/returns", "/v1/returns", body) is not None:
            self.call("POST", f"/v1/returns/{body['id']}/refund", "/v1/returns/{id}/refund")
