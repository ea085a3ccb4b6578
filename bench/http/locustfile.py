"""The whole system under load, for engineers and for ``python -m bench.http``.

User classes, each with its share of the users (ATP_BENCH_WEIGHT_<CLASS>; only Storefront
is on unless set, so the command below runs the reads mix as it always has):

- Storefront (STOREFRONT=1): reads ~80% (batch 50, single 30), holds then releases ~12%,
  hold-commit-fulfill ~5%, stock adjustments ~3%.
- Shopper (SHOPPER): an online order, shipped or collected (the pickup promise asked
  first; ATP_BENCH_PICKUP_SHARE, 0.5), then paid (confirm).
- Associate (ASSOCIATE): one store's pickup queue, picking -> staged -> ready -> picked_up
  (an empty queue gets a paid pickup order placed there).
- Returner (RETURNER): a shipped order returned at another store, received, refunded.
- AlertSignup (ALERT_SIGNUP): back-in-stock sign-ups, read back, unsubscribed.
- ChangeListener (CHANGE_LISTENER): holds GET /v1/changes open; each event is reported
  as ``SSE /v1/changes event`` (events/s; lag from the event's ``at`` as its time).

Keys: ATP_BENCH_KEY (admin serves every class), or ATP_BENCH_KEY_<ROLE> per role
(STOREFRONT: availability:read, reservations:write, stock:write; SHOPPER, ASSOCIATE,
RETURNER: orders:write, orders:read, availability:read; ALERTS: alerts:write;
LISTENER: availability:read). What they act on: ATP_BENCH_SKU_PREFIX, _SKU_DIGITS,
_SKU_FIRST, _SKUS (B-000..B-099 by default: what ``python -m bench.http`` seeds),
ATP_BENCH_LOCATIONS (holds and adjustments at the first; W1,S1), ATP_BENCH_STORES
(pickup stores, return stores; ST-001,ST-002,ST-003), ATP_BENCH_SHIP_TO (lat,lon),
ATP_BENCH_CHANGES_QUERY (a filter for the listeners, e.g. ``types=adjusted``).

Against the demo chain (``scripts/run-demo.sh`` prints the admin key): its 25 fast movers
SKU-000001..SKU-000025, deep at warehouse WH-BERGER and stocked at the stores ST-001..ST-020
(the demo's stores are open their real hours: the pickup promise says when):

    export ATP_BENCH_KEY=atp_... ATP_BENCH_SKU_PREFIX=SKU- ATP_BENCH_SKU_DIGITS=6 \
        ATP_BENCH_SKU_FIRST=1 ATP_BENCH_SKUS=25 ATP_BENCH_LOCATIONS=WH-BERGER,ST-001
    locust -f bench/http/locustfile.py --headless -u 50 -r 50 -t 30s \
        --host http://127.0.0.1:8000 --csv bench/out/locust

    # the whole system, with thresholds that set the exit code (1: one was missed)
    ATP_BENCH_WEIGHT_STOREFRONT=10 ATP_BENCH_WEIGHT_SHOPPER=4 ATP_BENCH_WEIGHT_ASSOCIATE=2 \
    ATP_BENCH_WEIGHT_RETURNER=1 ATP_BENCH_WEIGHT_ALERT_SIGNUP=1 \
    ATP_BENCH_WEIGHT_CHANGE_LISTENER=2 ATP_BENCH_STORES=ST-001,ST-002,ST-003,ST-004 \
    locust -f bench/http/locustfile.py --headless -u 40 -r 20 -t 60s \
        --host http://127.0.0.1:8000 --csv bench/out/locust-system \
        --max-p99-ms 500 --max-p99-ms "/v1/availability/query=50" --max-fail-ratio 0.01 \
        --min-rps 50 --min-change-events 1 --max-change-lag-p99-ms 2000

Refusals a flow expects under load (a shelf ran out: ``insufficient``, ``insufficient-stock``; two
associates on one order) count as successes under ``NAME [409 problem]``. Thresholds:
bench/http/thresholds.py.
"""

import random
from typing import Any

from locust import User, between, task

from bench.http import config, flows_feed, flows_orders, thresholds
from bench.http.calls import ApiUser

assert thresholds.P99  # imported for its options and its judge at quit
BATCH_SKUS = min(20, len(config.SKUS))  # a category page
SHORT = frozenset({"insufficient"})  # the demo's shelves run out: a refusal, not a failure


def _hold_body(channel: str = "online") -> dict[str, object]:
    lines = [
        {"sku": sku, "location": config.LOCATIONS[0], "qty": 1}
        for sku in random.sample(config.SKUS, random.randint(1, 3))
    ]
    return {"id": config.new_id("lc"), "channel": channel, "lines": lines}


class Storefront(ApiUser):
    role = "storefront"
    wait_time = between(0, 0.01)

    def _post(self, path: str, name: str, body: Any = None) -> None:
        self.client.post(path, json=body, headers=self.headers, name=name)

    @task(50)
    def batch(self) -> None:
        body = {"skus": random.sample(config.SKUS, BATCH_SKUS), "locations": config.LOCATIONS}
        self._post("/v1/availability/query", "/v1/availability/query", body)

    @task(30)
    def single(self) -> None:
        sku, locations = random.choice(config.SKUS), config.LOCATIONS
        self.client.get(
            f"/v1/availability/{sku}?location={locations[0]}&location={locations[-1]}",
            headers=self.headers,
            name="/v1/availability/{sku}",
        )

    def _hold(self) -> str | None:
        """A hold of 1-3 units at the first location: its id, or None when refused."""
        body = _hold_body()
        held = self.call("POST", "/v1/reservations", "/v1/reservations", body, SHORT)
        return None if held is None else str(body["id"])

    @task(12)
    def hold_then_release(self) -> None:
        held = self._hold()
        if held is not None:
            self._post(f"/v1/reservations/{held}/release", "/v1/reservations/{id}/release")

    @task(5)
    def commit_and_fulfill(self) -> None:
        held = self._hold()
        for verb in ("commit", "fulfill") if held is not None else ():
            self._post(f"/v1/reservations/{held}/{verb}", f"/v1/reservations/{{id}}/{verb}")

    @task(3)
    def adjust(self) -> None:
        body = {
            "sku": random.choice(config.SKUS),
            "location": config.LOCATIONS[0],
            "delta": random.randint(1, 5),
            "reason": "receipt",
        }
        self._post("/v1/stock/adjustments", "/v1/stock/adjustments", body)


FLOWS: dict[str, type[User]] = {
    "storefront": Storefront,
    "shopper": flows_orders.Shopper,
    "associate": flows_orders.Associate,
    "returner": flows_orders.Returner,
    "alert_signup": flows_feed.AlertSignup,
    "change_listener": flows_feed.ChangeListener,
}
# Locust runs the User classes this module holds: only those with a weight.
for _name, _cls in FLOWS.items():
    if config.weight(_name) > 0:
        _cls.weight = config.weight(_name)
        globals()[_cls.__name__] = _cls
    elif _cls.__name__ in globals():
        del globals()[_cls.__name__]
del _name, _cls
