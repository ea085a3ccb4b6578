"""An order and its reservation never disagree: a process killed between the steps of a
create, confirm, cancel or hand-over leaves a begun step that the recovery sweep finishes;
unpaid holds expire their orders; uncollected orders become no-shows.

The kill tests run the order service in a child process that SIGKILLs itself at a named
point (before the ledger write, or after it and before its recording), then sweep from
this process."""

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from atp.model import Channel
from orders.recovery import RECOVERY_GRACE_S, Sweep
from orders.service import Orders
from reservations.model import State as HoldState
from support.harness import Api
from support.order_world import pickup, shop

__all__ = ["shop"]

GRACE_MS = int(RECOVERY_GRACE_S * 1000) + 1
ROOT = Path(__file__).resolve().parents[2]

# The order service in a process of its own, on the test's Redis and PostgreSQL, dying at
# KILL_AT: "ledger" (the step begun, nothing written) or a step's name (written, not
# recorded).
CHILD = textwrap.dedent(
    """
    import asyncio, json, os, signal

    import asyncpg

    from atp.clock import ManualClock
    from catalog.routing_directory import CatalogDirectory
    from engine.durable import start_durability
    from engine.local import Engine
    from orders import store
    from orders.service import Draft, Orders
    from routing.model import Policy

    def die(*_):
        os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        pool = await asyncpg.create_pool(os.environ["PG_DSN"], min_size=1, max_size=2)
        directory = CatalogDirectory(pool)
        engine = Engine.connect(os.environ["REDIS_URL"], ManualClock(), directory=directory)
        durability = await start_durability(engine.redis, pool)
        orders = Orders(pool, engine, durability, lambda: directory, Policy())
        kill_at = os.environ["KILL_AT"]
        if kill_at == "ledger":
            async def dying_ledger(write):
                die()
            orders._ledger = dying_ledger
        else:
            finish = store.finish
            async def dying_finish(conn, order_id, step, *args, **kwargs):
                if step == kill_at:
                    die()
                return await finish(conn, order_id, step, *args, **kwargs)
            store.finish = dying_finish
        action, order_id = os.environ["ACTION"], os.environ["ORDER_ID"]
        if action == "create":
            draft = json.loads(os.environ["DRAFT"])
            await orders.create(msgspec_draft(draft), "child")
        elif action == "picked_up":
            from orders.model import Step
            await orders.step(order_id, Step.picked_up, "child")
        else:
            await getattr(orders, action)(order_id, "child")
        raise SystemExit("the child was to die before finishing")

    def msgspec_draft(body):
        import msgspec
        return msgspec.convert(body, Draft)

    asyncio.run(main())
    """
)


async def run_child(api: Api, action: str, order_id: str, kill_at: str, **env: str) -> None:
    settings = api.services.settings
    child_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": settings.redis_url,
        "PG_DSN": str(settings.pg_dsn),
        "ACTION": action,
        "ORDER_ID": order_id,
        "KILL_AT": kill_at,
        **env,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, env=child_env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode == -signal.SIGKILL, err.decode()


def orders_of(api: Api) -> Orders:
    assert api.services.orders is not None
    return api.services.orders


async def sweep(api: Api) -> int:
    api.clock.advance(GRACE_MS)
    return await Sweep(orders_of(api)).round()


async def atp_at_s1(api: Api) -> int:
    return (await api.engine.availability.position("A", "S1")).atp(Channel.online)


async def row(api: Api, order_id: str) -> Any:
    return await api.services.pool.fetchrow(
        "SELECT state, pending_step FROM orders WHERE id = $1", order_id
    )


def draft(order_id: str, qty: int) -> str:
    body = pickup(order_id, qty)
    body["customer"] = {"name": "Kari"}
    body["channel"] = "online"
    body["lines"] = [{"sku": "A", "qty": qty}]
    return json.dumps(body)


@pytest.mark.parametrize("kill_at", ["ledger", "create"])
async def test_a_create_killed_midway_is_completed_by_the_sweep(shop: Api, kill_at: str) -> None:
    await run_child(shop, "create", "k-1", kill_at, DRAFT=draft("k-1", 3))
    assert dict(await row(shop, "k-1")) == {"state": "pending", "pending_step": "create"}
    held_before = await shop.engine.reservations.get("o-k-1")
    assert (held_before is None) == (kill_at == "ledger")
    assert await sweep(shop) >= 1
    assert dict(await row(shop, "k-1")) == {"state": "placed", "pending_step": None}
    held = await shop.engine.reservations.get("o-k-1")
    assert held is not None and held.state is HoldState.held
    assert await atp_at_s1(shop) == 7  # held once, however many attempts
    retry = await shop.call("POST", "/v1/orders", "orders", {**json.loads(draft("k-1", 3))})
    assert retry.status_code == 200, retry.text


@pytest.mark.parametrize(
    ("action", "kill_at", "state", "hold"),
    [
        ("confirm", "ledger", "confirmed", HoldState.committed),
        ("confirm", "confirm", "confirmed", HoldState.committed),
        ("cancel", "ledger", "cancelled", HoldState.released),
        ("cancel", "cancel", "cancelled", HoldState.released),
    ],
)
async def test_a_confirm_or_cancel_killed_midway_is_finished(
    shop: Api, action: str, kill_at: str, state: str, hold: HoldState
) -> None:
    placed = await shop.call("POST", "/v1/orders", "orders", pickup("k-2", 2))
    assert placed.status_code == 201, placed.text
    await run_child(shop, action, "k-2", kill_at)
    assert (await row(shop, "k-2"))["pending_step"] == action
    other = "cancel" if action == "confirm" else "confirm"
    busy = await shop.call("POST", f"/v1/orders/k-2/{other}", "orders")
    assert busy.status_code == 409  # a step is under way (the same one would resume it)
    await sweep(shop)
    assert dict(await row(shop, "k-2")) == {"state": state, "pending_step": None}
    held = await shop.engine.reservations.get("o-k-2")
    assert held is not None and held.state is hold
    assert await atp_at_s1(shop) == (8 if action == "confirm" else 10)


@pytest.mark.parametrize("kill_at", ["ledger", "picked_up"])
async def test_a_hand_over_killed_midway_takes_the_units_once(shop: Api, kill_at: str) -> None:
    await shop.call("POST", "/v1/orders", "orders", pickup("k-3", 2))
    await shop.call("POST", "/v1/orders/k-3/confirm", "orders")
    for step in ("staged", "ready"):
        r = await shop.call("POST", f"/v1/orders/k-3/pickup/{step}", "pos")
        assert r.status_code == 200, r.text
    await run_child(shop, "picked_up", "k-3", kill_at)
    await sweep(shop)
    assert dict(await row(shop, "k-3")) == {"state": "picked_up", "pending_step": None}
    position = await shop.engine.availability.position("A", "S1")
    assert (position.on_hand, position.reserved) == (8, 0)
    again = await shop.call("POST", "/v1/orders/k-3/pickup/picked_up", "pos")
    assert again.status_code == 200
    assert (await shop.engine.availability.position("A", "S1")).on_hand == 8


async def test_an_unpaid_order_expires_with_its_hold(shop: Api) -> None:
    await shop.call("POST", "/v1/orders", "orders", pickup("k-4", 4))
    orders = orders_of(shop)
    shop.clock.advance(orders.hold_ttl_s * 1000 + 1)
    await Sweep(orders).round()
    assert dict(await row(shop, "k-4")) == {"state": "expired", "pending_step": None}
    assert await atp_at_s1(shop) == 10
    late = await shop.call("POST", "/v1/orders/k-4/confirm", "orders")
    assert late.status_code == 409


async def test_a_confirm_after_the_hold_ran_out_expires_the_order(shop: Api) -> None:
    await shop.call("POST", "/v1/orders", "orders", pickup("k-5", 1))
    shop.clock.advance(orders_of(shop).hold_ttl_s * 1000 + 1)
    late = await shop.call("POST", "/v1/orders/k-5/confirm", "orders")
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/hold-expired"
    assert dict(await row(shop, "k-5")) == {"state": "expired", "pending_step": None}
    assert await atp_at_s1(shop) == 10


async def test_a_ready_order_never_collected_is_a_no_show(shop: Api) -> None:
    await shop.call("POST", "/v1/orders", "orders", pickup("k-6", 2))
    await shop.call("POST", "/v1/orders/k-6/confirm", "orders")
    for step in ("staged", "ready"):
        await shop.call("POST", f"/v1/orders/k-6/pickup/{step}", "pos")
    shop.clock.advance(71 * 3600 * 1000)  # within the pickup policy's 72 hours
    await Sweep(orders_of(shop)).round()
    assert (await row(shop, "k-6"))["state"] == "ready"
    shop.clock.advance(2 * 3600 * 1000)
    await Sweep(orders_of(shop)).round()
    assert dict(await row(shop, "k-6")) == {"state": "no_show", "pending_step": None}
    assert await atp_at_s1(shop) == 10
    late = await shop.call("POST", "/v1/orders/k-6/pickup/picked_up", "pos")
    assert late.status_code == 409
