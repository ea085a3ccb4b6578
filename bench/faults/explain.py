"""What to look at when a position misses what was acknowledged: the reservations still
open there, the orders behind them (with what the run was told of each) and their
journal, so one failed run shows the cause without a second one."""

from typing import Any

import asyncpg
import httpx

from bench.faults.load import Tally

LISTED_MAX = 20  # open reservations looked at per position
JOURNAL_ROWS_MAX = 20

_JOURNAL = (
    "SELECT type, sku, location, d_on_hand, d_reserved, on_hand, reserved, op_id,"
    " partition, stream_ms, stream_seq FROM ledger_events WHERE reservation_id = $1"
    " ORDER BY stream_ms, stream_seq LIMIT $2"
)


async def _json(client: httpx.AsyncClient, key: str, path: str, **params: Any) -> Any:
    r = await client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})
    return r.json() if r.status_code == 200 else f"{r.status_code} {r.text[:200]}"


async def explain(
    client: httpx.AsyncClient, tally: Tally, dsn: str, sku: str, location: str
) -> list[str]:
    """Every open reservation with a line of ``sku`` at ``location``: its state and open
    units, its order's state and steps and what the run counted of it, its journal."""
    key, found = tally.keys["oms"], []
    for state in ("held", "committed"):
        page = await _json(
            client, key, "/v1/reservations", state=state, location=location, limit=LISTED_MAX
        )
        items = page.get("items", []) if isinstance(page, dict) else []
        for r in items:
            lines = [ln for ln in r["lines"] if ln["sku"] == sku and ln["open"]]
            if lines:
                found.append(await _one(client, tally, dsn, r, lines))
    return found or [f"no open reservation of {sku} at {location}"]


async def _one(
    client: httpx.AsyncClient, tally: Tally, dsn: str, r: dict[str, Any], lines: list[Any]
) -> str:
    rid = r["id"]
    told = tally.finished.get(rid) or tally.unsettled.get(rid, ("", "not counted"))[1]
    text = f"{rid} {r['state']} open {lines}; the run was told: {told}"
    if rid.startswith("o-"):
        order_id = rid.removeprefix("o-")
        order = await _json(client, tally.keys["oms"], f"/v1/orders/{order_id}")
        steps = order.get("steps") if isinstance(order, dict) else order
        state = order.get("state") if isinstance(order, dict) else ""
        text += f"; order {state} (counted: {tally.orders.get(order_id)}), steps {steps}"
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(_JOURNAL, rid, JOURNAL_ROWS_MAX)
    finally:
        await conn.close()
    return text + f"; journal {[tuple(row) for row in rows]}"
