"""A realistic mix against the HTTP API, for engineers and for ``python -m bench.http``.

Storefront reads ~80% (batch 50, single 30), holds then releases ~12%, hold-commit-fulfill
~5%, stock adjustments ~3%. Configure with ATP_BENCH_KEY (an API key with the scopes
availability:read, reservations:write and stock:write, e.g. the demo's "oms" key, or admin).
The defaults (B-000..B-099 at W1 and S1) are the positions ``python -m bench.http`` seeds.
Against the demo chain (``scripts/run-demo.sh``): its 25 fast movers, deep at warehouse
WH-BERGER (holds and adjustments go to the first location) and stocked at store ST-001:

    ATP_BENCH_KEY=atp_... ATP_BENCH_SKU_PREFIX=SKU- ATP_BENCH_SKU_DIGITS=6 \
    ATP_BENCH_SKU_FIRST=1 ATP_BENCH_SKUS=25 ATP_BENCH_LOCATIONS=WH-BERGER,ST-001 \
    locust -f bench/http/locustfile.py --headless -u 50 -r 50 -t 30s \
        --host http://127.0.0.1:8000 --csv bench/out/locust
"""

import itertools
import os
import random
import uuid

from locust import FastHttpUser, between, task

KEY = os.environ.get("ATP_BENCH_KEY", "")
PREFIX = os.environ.get("ATP_BENCH_SKU_PREFIX", "B-")
DIGITS = int(os.environ.get("ATP_BENCH_SKU_DIGITS", "3"))
FIRST = int(os.environ.get("ATP_BENCH_SKU_FIRST", "0"))  # the demo ranks its SKUs from 1
COUNT = int(os.environ.get("ATP_BENCH_SKUS", "100"))
SKUS = [f"{PREFIX}{i:0{DIGITS}d}" for i in range(FIRST, FIRST + COUNT)]
LOCATIONS = os.environ.get("ATP_BENCH_LOCATIONS", "W1,S1").split(",")
BATCH_SKUS = min(20, len(SKUS))  # a category page
_ids = itertools.count()
_run = uuid.uuid4().hex[:8]


def _hold_body(channel: str = "online") -> dict[str, object]:
    lines = [
        {"sku": sku, "location": LOCATIONS[0], "qty": 1}
        for sku in random.sample(SKUS, random.randint(1, 3))
    ]
    return {"id": f"lc-{_run}-{next(_ids)}", "channel": channel, "lines": lines}


class Caller(FastHttpUser):
    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    @task(50)
    def batch(self) -> None:
        body = {"skus": random.sample(SKUS, BATCH_SKUS), "locations": LOCATIONS}
        self.client.post("/v1/availability/query", json=body, headers=self.headers)

    @task(30)
    def single(self) -> None:
        sku = random.choice(SKUS)
        self.client.get(
            f"/v1/availability/{sku}?location={LOCATIONS[0]}&location={LOCATIONS[-1]}",
            headers=self.headers,
            name="/v1/availability/{sku}",
        )

    @task(12)
    def hold_then_release(self) -> None:
        body = _hold_body()
        self.client.post("/v1/reservations", json=body, headers=self.headers)
        self.client.post(
            f"/v1/reservations/{body['id']}/release",
            headers=self.headers,
            name="/v1/reservations/{id}/release",
        )

    @task(5)
    def commit_and_fulfil(self) -> None:
        body = _hold_body()
        self.client.post("/v1/reservations", json=body, headers=self.headers)
        for verb in ("commit", "fulfill"):
            self.client.post(
                f"/v1/reservations/{body['id']}/{verb}",
                headers=self.headers,
                name=f"/v1/reservations/{{id}}/{verb}",
            )

    @task(3)
    def adjust(self) -> None:
        body = {
            "sku": random.choice(SKUS),
            "location": LOCATIONS[0],
            "delta": random.randint(1, 5),
            "reason": "receipt",
        }
        self.client.post("/v1/stock/adjustments", json=body, headers=self.headers)
