"""The load mix, one coroutine per client until ``tally.stop``: holds that are committed
then fulfilled or released, stock adjustments, register batches replayed until
acknowledged, orders (placed and confirmed; pickups worked to ``picked_up``) and
storefront reads. Each keeps in the tally what was acknowledged."""

import asyncio
import random
from typing import Any

import httpx

from bench.faults.load import (
    DEVICES,
    SKUS,
    STORE,
    WAREHOUSE,
    Tally,
    Write,
    acknowledged,
    judge,
    send,
)

HOLD_TTL_S = 900
PICKUP_STEPS = ("picking", "staged", "ready", "picked_up")
PICKUP_EVERY = 3  # one order in three is collected in store, the others are shipped
SHIP_TO = {"lat": 59.91, "lon": 10.75}
READ_PAUSE_S = 0.005  # a storefront's reads leave the writers most of the two cores
SALE_SHARE = 0.7  # of register events; the others are returns
ENDS = {"fulfill": "fulfilled", "release": "released"}
# The reservation state an order's step leads to ("": the step writes no ledger).
ORDER_STEP_STATES = {"confirm": "committed", "pickup/picked_up": "fulfilled"}


async def holds(client: httpx.AsyncClient, tally: Tally, c: int) -> None:
    """Hold (a client-chosen id), commit, then fulfill or release, each step acknowledged."""
    rng, key, i = random.Random(c), tally.keys["oms"], 0
    while not tally.stop.is_set():
        i += 1
        rid = f"R{c}-{i}"
        lines: list[dict[str, Any]] = [
            {"sku": s, "location": WAREHOUSE, "qty": rng.randint(1, 3)}
            for s in rng.sample(SKUS, rng.randint(1, 2))
        ]
        hold = {"id": rid, "channel": "online", "lines": lines, "ttl_seconds": HOLD_TTL_S}
        end = "fulfill" if i % 2 else "release"
        steps = [
            (Write("POST", "/v1/reservations", key, hold, f"h-{rid}"), (200, 201), "held"),
            (
                Write("POST", f"/v1/reservations/{rid}/commit", key, None, f"c-{rid}"),
                (200,),
                "committed",
            ),
            (
                Write("POST", f"/v1/reservations/{rid}/{end}", key, None, f"e-{rid}"),
                (200,),
                ENDS[end],
            ),
        ]
        for w, ok, state in steps:
            response = await send(client, tally, w)
            if not acknowledged(tally, response, w, *ok, step_of=(rid, state)):
                break
        else:
            tally.finished[rid] = "fulfilled" if end == "fulfill" else "released"
            if end == "fulfill":
                for line in lines:
                    tally.delta[(line["sku"], WAREHOUSE)] -= line["qty"]


async def adjustments(client: httpx.AsyncClient, tally: Tally, c: int) -> None:
    rng, key, i = random.Random(100 + c), tally.keys["oms"], 0
    while not tally.stop.is_set():
        i += 1
        sku, location = rng.choice(SKUS), rng.choice((WAREHOUSE, STORE))
        delta, reason = (rng.randint(1, 3), "receipt") if i % 4 else (-1, "damage")
        body = {"sku": sku, "location": location, "delta": delta, "reason": reason}
        w = Write("POST", "/v1/stock/adjustments", key, body, f"a{c}-{i}")
        if acknowledged(tally, await send(client, tally, w), w, 200):
            tally.delta[(sku, location)] += delta


async def register(client: httpx.AsyncClient, tally: Tally, device: str) -> None:
    """Batches of sales and returns, each event with its own id and a rising device_seq,
    sent again as they are until acknowledged (a register replaying its offline log)."""
    rng, key, seq = random.Random(device), tally.keys["register"], 0
    while not tally.stop.is_set():
        events: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 4)):
            seq += 1
            events.append(
                {
                    "type": "sale" if rng.random() < SALE_SHARE else "return",
                    "event_id": f"{device}-e{seq}",
                    "device_seq": seq,
                    "occurred_at": "2026-12-03T10:00:00Z",
                    "sku": rng.choice(SKUS),
                    "location": STORE,
                    "qty": rng.randint(1, 2),
                }
            )
        w = Write("POST", f"/v1/pos/{device}/events", key, {"events": events})
        response = await send(client, tally, w)
        if not acknowledged(tally, response, w, 200):
            continue
        statuses = [r["status"] for r in response.json()["results"]]
        if any(s not in ("applied", "duplicate") for s in statuses):  # duplicate: a retry
            tally.fail(f"register batch {events[0]['event_id']}: {statuses}")
            continue
        for e in events:
            sign = -1 if e["type"] == "sale" else 1
            tally.delta[(e["sku"], STORE)] += sign * e["qty"]


async def orders(client: httpx.AsyncClient, tally: Tally, c: int) -> None:
    """Orders placed and confirmed; a pickup at the store is then worked to picked_up
    (its units fulfilled), a shipped one stays committed (its units reserved)."""
    rng, key, i = random.Random(200 + c), tally.keys["oms"], 0
    while not tally.stop.is_set():
        i += 1
        order_id = f"O{c}-{i}"
        pickup = i % PICKUP_EVERY == 0
        lines = [{"sku": s, "qty": rng.randint(1, 2)} for s in rng.sample(SKUS, 2)]
        body: dict[str, Any] = {
            "id": order_id,
            "channel": "online",
            "customer": {"id": f"cust-{c}-{i}"},
            "lines": lines,
        }
        body |= {"method": "pickup", "location": STORE} if pickup else {"method": "ship"}
        if not pickup:
            body["ship_to"] = SHIP_TO
        rid = f"o-{order_id}"  # the order's reservation
        w = Write("POST", "/v1/orders", key, body)
        placed = await send(client, tally, w)
        if not acknowledged(tally, placed, w, 200, 201, step_of=(rid, "held")):
            continue
        steps = ["confirm", *(f"pickup/{s}" for s in PICKUP_STEPS)] if pickup else ["confirm"]
        for step in steps:
            w = Write("POST", f"/v1/orders/{order_id}/{step}", key)
            response = await send(client, tally, w)
            state = ORDER_STEP_STATES.get(step, "")
            if not acknowledged(tally, response, w, 200, step_of=(rid, state)):
                break
        else:
            shipments = placed.json()["shipments"]
            tally.orders[order_id] = "picked_up" if pickup else "confirmed"
            for s in shipments:
                for line in s["lines"]:
                    where = (line["sku"], s["location"])
                    if pickup:
                        tally.delta[where] -= line["qty"]
                    else:
                        tally.reserved[where] += line["qty"]


async def storefront(client: httpx.AsyncClient, tally: Tally, c: int) -> None:
    """Availability reads as a storefront makes them; an answer is counted, not retried."""
    rng, key = random.Random(300 + c), tally.keys["storefront"]
    headers = {"Authorization": f"Bearer {key}"}
    while not tally.stop.is_set():
        sku = rng.choice(SKUS)
        params = {"location": [WAREHOUSE, STORE]}
        try:
            response = await client.get(f"/v1/availability/{sku}", params=params, headers=headers)
        except httpx.TransportError:
            pass
        else:
            tally.reads += 1
            judge(tally, response, f"GET /v1/availability/{sku}")
        await asyncio.sleep(READ_PAUSE_S)


def mix(client: httpx.AsyncClient, tally: Tally, scale: int) -> list[Any]:
    """Every client of the load, ``scale`` of each writer kind (one per register)."""
    found: list[Any] = [holds(client, tally, c) for c in range(scale)]
    found += [adjustments(client, tally, c) for c in range(scale)]
    found += [orders(client, tally, c) for c in range(scale)]
    found += [storefront(client, tally, c) for c in range(scale)]
    found += [register(client, tally, d) for d in DEVICES]
    return found
