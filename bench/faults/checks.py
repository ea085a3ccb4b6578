"""Every acknowledged write checked after the run, once Redis was lost one last time (so
every position is rebuilt from PostgreSQL): each position equals the seed plus what was
acknowledged, every reservation and order is in the state acknowledged (else: lost); every
write sent again with its ids moves nothing and answers as before (else: applied twice);
every key still authenticates."""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.faults.explain import explain
from bench.faults.load import SEED, SKUS, STORE, WAREHOUSE, Tally, Write, send

ACK_DEADLINE_S = 30.0  # every write sent again is acknowledged by then
IN_FLIGHT_MAX = 8
SHOWN_MAX = 10

Position = tuple[str, str]


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    applied_twice: list[str] = field(default_factory=list)
    unauthorized: list[str] = field(default_factory=list)
    # Not acknowledged (refused when retried) yet applied: the ledger shows the step done.
    refused_yet_applied: list[str] = field(default_factory=list)
    # An order whose reservation the ledger fulfilled while the order was not handed over.
    order_disagrees: list[str] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)  # what lies behind each loss


async def positions(client: httpx.AsyncClient, key: str) -> dict[Position, tuple[int, int]]:
    """(on hand, reserved) of every position, read from Redis (consistency=strong)."""
    found = {}
    locations = [("location", WAREHOUSE), ("location", STORE)]
    for sku in SKUS:
        r = await client.get(
            f"/v1/availability/{sku}",
            params=[*locations, ("consistency", "strong")],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, r.text
        for row in r.json()["rows"]:
            found[(row["sku"], row["location"])] = (row["on_hand"], row["reserved"])
    return found


def expected(tally: Tally) -> dict[Position, tuple[int, int]]:
    return {
        (sku, loc): (SEED + tally.delta[(sku, loc)], tally.reserved[(sku, loc)])
        for sku in SKUS
        for loc in (WAREHOUSE, STORE)
    }


async def _states(client: httpx.AsyncClient, key: str, paths: dict[str, str]) -> dict[str, str]:
    """The ``state`` each path answers (or its status and body)."""
    gate = asyncio.Semaphore(IN_FLIGHT_MAX)
    headers = {"Authorization": f"Bearer {key}"}

    async def state(path: str) -> str:
        async with gate:
            r = await client.get(path, headers=headers)
        return str(r.json().get("state")) if r.status_code == 200 else f"{r.status_code} {r.text}"

    found = await asyncio.gather(*(state(p) for p in paths))
    return dict(zip(paths, found, strict=True))


async def _get(client: httpx.AsyncClient, key: str, path: str) -> tuple[int, Any]:
    r = await client.get(path, headers={"Authorization": f"Bearer {key}"})
    return r.status_code, r.json() if r.status_code == 200 else r.text


async def settle(client: httpx.AsyncClient, tally: Tally, verdict: Verdict) -> None:
    """Each reservation whose step was refused after retries, as the ledger has it: what
    it holds or fulfilled is added to what is expected, so the positions check stays
    exact; a step the ledger shows done although it was answered refused is counted."""
    key = tally.keys["oms"]
    for rid, (state, answer) in tally.unsettled.items():
        status, found = await _get(client, key, f"/v1/reservations/{rid}")
        if status == 404:
            continue  # nothing of it in the ledger
        if status != 200:
            tally.fail(f"settling {rid}: {status} {found}")
            continue
        for line in found["lines"]:
            tally.delta[(line["sku"], line["location"])] -= line["fulfilled"]
            tally.reserved[(line["sku"], line["location"])] += line["open"]
        if state and found["state"] == state:
            verdict.refused_yet_applied.append(f"{rid} is {state}; answered {answer}")
        if rid.startswith("o-") and found["state"] == "fulfilled":
            _, order = await _get(client, key, f"/v1/orders/{rid.removeprefix('o-')}")
            if not isinstance(order, dict) or order.get("state") != "picked_up":
                shown = order.get("state") if isinstance(order, dict) else order
                verdict.order_disagrees.append(f"{rid} fulfilled, its order {shown}")


async def final_states(client: httpx.AsyncClient, tally: Tally) -> list[str]:
    """Every finished reservation and order in the state acknowledged."""
    wanted = {f"/v1/reservations/{rid}": s for rid, s in tally.finished.items()}
    wanted |= {f"/v1/orders/{oid}": s for oid, s in tally.orders.items()}
    found = await _states(client, tally.keys["oms"], wanted)
    return [f"{p}: {found[p]} (acknowledged {s})" for p, s in wanted.items() if found[p] != s]


async def send_everything_again(client: httpx.AsyncClient, tally: Tally) -> list[str]:
    """Every acknowledged write again, with its ids: each answers as acknowledged before
    (a replayed Idempotency-Key, every register event a ``duplicate``)."""
    tally.deadline = time.monotonic() + ACK_DEADLINE_S
    gate = asyncio.Semaphore(IN_FLIGHT_MAX)
    twice: list[str] = []

    async def again(w: Write) -> None:
        async with gate:
            r = await send(client, tally, w)
        if r.status_code not in (200, 201):
            tally.fail(f"again: {r.status_code} for {w.method} {w.path}: {r.text[:300]}")
        elif "/v1/pos/" in w.path:
            applied = [e["event_id"] for e in r.json()["results"] if e["status"] != "duplicate"]
            twice.extend(f"register event {e} applied again" for e in applied)
        elif w.idempotency_key is not None and r.headers.get("idempotent-replayed") != "true":
            twice.append(f"not replayed: {w.method} {w.path} {w.idempotency_key}")

    await asyncio.gather(*(again(w) for w in tally.writes))
    return twice


async def keys_authenticate(client: httpx.AsyncClient, tally: Tally) -> list[str]:
    refused = []
    for name, key in tally.keys.items():
        r = await client.get(
            f"/v1/availability/{SKUS[0]}",
            params={"location": STORE},
            headers={"Authorization": f"Bearer {key}"},
        )
        if r.status_code != 200:
            refused.append(f"key {name}: {r.status_code} {r.text[:200]}")
    return refused


async def check(client: httpx.AsyncClient, tally: Tally, dsn: str) -> Verdict:
    """Run once the load has stopped and Redis was rebuilt from PostgreSQL."""
    verdict = Verdict()
    await settle(client, tally, verdict)
    want = expected(tally)
    before = await positions(client, tally.keys["oms"])
    missed = [p for p, v in want.items() if before[p] != v]
    verdict.lost += [
        f"{p}: (on hand, reserved) {before[p]}, acknowledged {want[p]}" for p in missed
    ]
    for sku, location in missed:
        verdict.explained += await explain(client, tally, dsn, sku, location)
    verdict.lost += await final_states(client, tally)
    verdict.applied_twice += await send_everything_again(client, tally)
    after = await positions(client, tally.keys["oms"])
    verdict.applied_twice += [
        f"{p}: {before[p]} before sending again, {after[p]} after"
        for p in before
        if before[p] != after[p]
    ]
    verdict.unauthorized += await keys_authenticate(client, tally)
    return verdict
