"""The storefront's people: browse (batch availability reads), read prices, order for
shipping or pickup, pay or walk away; a shortage signs them up for a back-in-stock alert.
A ship order's boxes are compared with the rule chain's on the stock read just before."""

import datetime as dt
from typing import Any

from simulation import rule_chain
from simulation.chain import SHIP_GROUP
from simulation.log import ShipChoice
from simulation.runtime import Refused, Sim

BROWSE_SKUS = 12  # a category page
SIGN_UP_SHARE = 0.5  # told it is not there: ask to hear when it is back
BROWSE_SIGN_UP_SHARE = 0.5  # browsing: of those who see an out-of-stock badge, who cared
LINES_WEIGHTS = ((1, 0.45), (2, 0.30), (3, 0.17), (4, 0.08))  # lines in a cart


def customer(sim: Sim, n: int) -> dict[str, str]:
    return {"id": f"cust-{n:05d}", "email": f"shopper{n}@example.no"}


def pick_skus(sim: Sim, count: int) -> list[str]:
    skus = sim.chain.skus
    chosen: list[str] = []
    while len(chosen) < count:
        sku = sim.rng.choices(skus, weights=[s.weight for s in skus])[0].id
        if sku not in chosen:
            chosen.append(sku)
    return chosen


async def browse(sim: Sim, n: int, home: str) -> None:
    """A product list with "in stock at your store" badges; a shopper who wanted one that
    is out there (and the store carries it) may ask to hear when it is back."""
    skus = pick_skus(sim, min(BROWSE_SKUS, len(sim.chain.skus)))
    body = {"skus": skus, "locations": [home, sim.chain.warehouses[0].id], "channel": "online"}
    rows = (await sim.call("POST", "/v1/availability/query", body))["rows"]
    sim.log.reads += 1
    out = [r["sku"] for r in rows if r["location"] == home and r["atp"] < 1]
    wanted = [sku for sku in out if (sku, home) in sim.chain.stock]
    if wanted and sim.rng.random() < BROWSE_SIGN_UP_SHARE:
        await _sign_up(sim, n, wanted[0], home)


async def _price(sim: Sim, sku: str) -> str:
    found = await sim.call("GET", f"/v1/prices/{sku}")
    sim.log.reads += 1
    return str(found["price"])


async def _ship_snapshot(sim: Sim, skus: list[str]) -> dict[tuple[str, str], int]:
    body = {"skus": skus, "group": SHIP_GROUP, "channel": "online"}
    found = await sim.call("POST", "/v1/availability/query", body)
    sim.log.reads += 1
    return {(r["sku"], r["location"]): r["atp"] for r in found["rows"]}


def _ship_sites(sim: Sim) -> dict[str, tuple[float, float]]:
    return {loc.id: (loc.latitude, loc.longitude) for loc in sim.chain.locations}


async def order(
    sim: Sim,
    n: int,
    home: str,
    skus: list[str] | None = None,
    send_id: str | None = None,
) -> None:
    """One order placed and paid (or abandoned); its life goes on in the other errands."""
    from simulation import after_sale  # the errands that follow a paid order

    sizes, weights = [n for n, _ in LINES_WEIGHTS], [w for _, w in LINES_WEIGHTS]
    cart = skus or pick_skus(sim, sim.rng.choices(sizes, weights)[0])
    lines = [{"sku": sku, "qty": 1, "unit_price": await _price(sim, sku)} for sku in cart]
    oid = sim.next_id("o")
    body: dict[str, Any] = {"id": oid, "channel": "online", "customer": customer(sim, n),
                            "lines": lines}  # fmt: skip
    pickup = sim.rng.random() < sim.config.pickup_share and await _at_store(sim, n, cart, home)
    if pickup:
        body |= {"method": "pickup", "location": home}
    else:
        lat, lon = sim.chain.where(home)
        body |= {"method": "ship", "ship_to": {"lat": lat + 0.01, "lon": lon + 0.01}}
        snapshot = await _ship_snapshot(sim, cart)
    if send_id is not None:
        body["alert_send_id"] = send_id
    try:
        placed = await sim.call("POST", "/v1/orders", body)
    except Refused as exc:
        if exc.problem != "insufficient-stock":
            raise
        sim.log.refused_orders += 1
        short = [ln["sku"] for ln in (exc.body or {}).get("lines", []) if ln.get("short")]
        if short:
            await _sign_up(sim, n, short[0], home)
        return
    sim.log.order(placed)
    sim.goods.hold(placed)
    if send_id is not None:
        sim.log.conversions[oid] = send_id
    if not pickup:
        boxes = len({s["location"] for s in placed["shipments"]})
        wanted = dict.fromkeys(cart, 1)  # one of each line
        to = body["ship_to"]["lat"], body["ship_to"]["lon"]
        chain = rule_chain.shipments(wanted, snapshot, _ship_sites(sim), to)
        best = rule_chain.fewest(wanted, snapshot)
        sim.log.ships.append(ShipChoice(oid, boxes, chain, best))
    await sim.wait(sim.rng.uniform(0.5, 3))  # entering the card
    if sim.rng.random() < sim.config.abandon_share:
        sim.log.abandoned.add(oid)
        sim.goods.release(placed)
        return
    paid = await sim.call("POST", f"/v1/orders/{oid}/confirm")
    sim.log.order(paid)
    after_sale.follow(sim, paid)


async def _at_store(sim: Sim, n: int, cart: list[str], home: str) -> bool:
    """The storefront's "pick up today at your store": every line available there. When one
    is not and the store carries it, the shopper may ask to hear when it is back."""
    body = {"skus": cart, "locations": [home], "channel": "online"}
    rows = (await sim.call("POST", "/v1/availability/query", body))["rows"]
    sim.log.reads += 1
    there = {r["sku"] for r in rows if r["atp"] >= 1}
    missing = [sku for sku in cart if sku not in there]
    carried = [sku for sku in missing if (sku, home) in sim.chain.stock]
    if carried:
        await _sign_up(sim, n, carried[0], home)
    return not missing


async def _sign_up(sim: Sim, n: int, sku: str, home: str) -> None:
    """Told it is not there: half the shoppers ask to hear when it is back."""
    if sim.rng.random() >= SIGN_UP_SHARE:
        return
    body = {
        "contact": {"email": customer(sim, n)["email"]},
        "consent": {"given": True, "at": sim.now().isoformat(), "source": "storefront"},
        "sku": sku,
        "location": home,
        "channel": "online",
    }
    await sim.call("POST", "/v1/alerts/subscriptions", body)
    sim.log.signups += 1
    sim.subscribers[sku, home].append(n)


def _session_times(sim: Sim, opens: dt.datetime, closes: dt.datetime) -> list[dt.datetime]:
    span = (closes - opens).total_seconds()
    # Busier at lunch and after work: two bumps over a flat base.
    found = []
    for _ in range(sim.config.shoppers):
        pick = sim.rng.random()
        if pick < 0.4:
            at = sim.rng.uniform(0, span)
        elif pick < 0.7:
            at = min(span - 1, max(0.0, sim.rng.gauss(span * 0.35, span * 0.08)))
        else:
            at = min(span - 1, max(0.0, sim.rng.gauss(span * 0.8, span * 0.08)))
        found.append(opens + dt.timedelta(seconds=at))
    return sorted(found)


async def session(sim: Sim, n: int, at: dt.datetime) -> None:
    await sim.until(at)
    home = sim.rng.choice(sim.chain.stores).id
    await browse(sim, n % sim.config.customers, home)
    if sim.rng.random() < sim.config.order_share:
        await order(sim, n % sim.config.customers, home)


def start(sim: Sim, opens: dt.datetime, closes: dt.datetime) -> None:
    for n, at in enumerate(_session_times(sim, opens, closes)):
        sim.spawn(session(sim, n, at))
