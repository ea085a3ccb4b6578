"""From rows in the changes feed to a verifying receiver: signatures, retries under the
same webhook-id, the backoff schedule (a manual clock, never a wait), 410, the dead-letter
state and redelivery, and per-SKU order while the receiver fails half the time."""

import asyncpg

from atp.clock import ManualClock
from support.webhook_feed import add_changes, deliveries, endpoint
from support.webhook_receiver import Receiver
from webhooks import deliveries as listing
from webhooks.deliverer import Deliverer
from webhooks.endpoints import Filters, register
from webhooks.fanout import fan_out
from webhooks.limits import ATTEMPTS_MAX, BACKOFF_BASE_MS, BACKOFF_CAP_MS, BACKOFF_JITTER
from webhooks.runner import Webhooks


async def test_a_change_arrives_signed_as_standard_webhooks(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks
) -> None:
    await endpoint(db, receiver)
    [seq] = await add_changes(db, {"sku": "SKU-1", "data": {"atp_before": 0, "atp_after": 3}})
    assert await webhooks.fan_out() == 1
    assert await webhooks.deliverer.deliver_due() == 1
    [got] = receiver.received
    assert got.verified, got.headers
    assert got.webhook_id == f"msg_c{seq}"
    body = got.payload
    assert body["type"] == "availability_changed"
    assert body["data"]["atp_after"] == 3 and body["timestamp"].endswith("Z")
    [row] = await deliveries(db)
    assert row["state"] == "delivered" and row["attempts"] == 1


async def test_a_wrong_secret_does_not_verify(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks
) -> None:
    """The receiver's check can fail: another endpoint's secret refuses the signature."""
    await endpoint(db, receiver, "/a")
    await endpoint(db, receiver, "/b")
    receiver.secrets["/a"], receiver.secrets["/b"] = receiver.secrets["/b"], receiver.secrets["/a"]
    await add_changes(db, {})
    await webhooks.fan_out()
    await webhooks.deliverer.deliver_due()
    assert len(receiver.received) == 2
    assert not any(r.verified for r in receiver.received)


async def test_only_changes_after_registration_and_matching_filters_are_owed(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks
) -> None:
    await add_changes(db, {"sku": "SKU-1"})  # history: before the endpoint
    await endpoint(db, receiver, skus=["SKU-1"], types=["availability_changed", "reset"])
    await add_changes(
        db,
        {"sku": "SKU-2"},  # another SKU
        {"sku": "SKU-1", "type": "low_stock"},  # another type
        {"sku": "SKU-1"},  # owed
        {"sku": "", "location": "", "type": "reset"},  # names no SKU: owed
    )
    assert await webhooks.fan_out() == 2
    assert await webhooks.fan_out() == 0  # the consumer moved on: nothing twice
    assert [r["type"] for r in await deliveries(db)] == ["availability_changed", "reset"]


async def test_retries_keep_the_webhook_id_and_follow_the_backoff_schedule(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks, wall_clock: ManualClock
) -> None:
    receiver.answer = lambda path, webhook_id, seen: 500 if seen < 5 else 200
    await endpoint(db, receiver)
    await add_changes(db, {})
    await webhooks.fan_out()
    for attempt in range(1, 6):
        assert await webhooks.deliverer.deliver_due() == 1
        [row] = await deliveries(db)
        assert row["state"] == "pending" and row["attempts"] == attempt
        assert row["last_status"] == 500 and row["last_error"].startswith("HTTP 500")
        delay = row["next_attempt_ms"] - wall_clock.now_ms()
        nominal = min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_CAP_MS)
        assert nominal * (1 - BACKOFF_JITTER) <= delay <= nominal * (1 + BACKOFF_JITTER)
        wall_clock.advance(delay - 1)
        assert await webhooks.deliverer.deliver_due() == 0  # not before it is due
        wall_clock.advance(1)
    assert await webhooks.deliverer.deliver_due() == 1
    assert len({r.webhook_id for r in receiver.received}) == 1
    assert all(r.verified for r in receiver.received) and len(receiver.received) == 6
    [row] = await deliveries(db)
    assert row["state"] == "delivered" and row["attempts"] == 6


async def _fail_until_dead(webhooks: Webhooks, db: asyncpg.Pool, clock: ManualClock) -> None:
    for _ in range(ATTEMPTS_MAX):
        assert await webhooks.deliverer.deliver_due() == 1
        [row] = await deliveries(db)
        clock.value_ms = max(clock.value_ms, row["next_attempt_ms"])


async def test_persistent_failure_is_dead_listed_and_redelivered_by_hand(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks, wall_clock: ManualClock
) -> None:
    receiver.answer = lambda path, webhook_id, seen: 503
    endpoint_id = await endpoint(db, receiver)
    await add_changes(db, {})
    await webhooks.fan_out()
    await _fail_until_dead(webhooks, db, wall_clock)
    [row] = await deliveries(db)
    assert row["state"] == "dead" and row["attempts"] == ATTEMPTS_MAX
    wall_clock.advance(BACKOFF_CAP_MS * 2)
    assert await webhooks.deliverer.deliver_due() == 0  # dead stays dead
    async with db.acquire() as conn:
        dead, _ = await listing.list_page(conn, endpoint_id, listing.DeliveryState.dead, 10, 0)
        assert [d.id for d in dead] == [row["webhook_id"]]
        receiver.answer = lambda path, webhook_id, seen: 200
        again = await listing.redeliver(conn, endpoint_id, row["webhook_id"], wall_clock.now_ms())
    assert again is not None and again.state is listing.DeliveryState.pending
    assert await webhooks.deliverer.deliver_due() == 1
    assert receiver.received[-1].status == 200
    assert {r.webhook_id for r in receiver.received} == {row["webhook_id"]}
    [row] = await deliveries(db)
    assert row["state"] == "delivered"


async def test_410_disables_the_endpoint_and_stops_its_pending_deliveries(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks
) -> None:
    receiver.answer = lambda path, webhook_id, seen: 410
    endpoint_id = await endpoint(db, receiver)
    await add_changes(db, {"sku": "SKU-1"}, {"sku": "SKU-1"})
    await webhooks.fan_out()
    assert await webhooks.deliverer.deliver_due() == 1  # the second waits behind the first
    enabled, reason = await db.fetchrow(
        "SELECT enabled, disabled_reason FROM webhook_endpoints WHERE id = $1", endpoint_id
    )
    assert not enabled and "410" in reason
    assert [r["state"] for r in await deliveries(db)] == ["dead", "dead"]
    await add_changes(db, {"sku": "SKU-1"})
    assert await webhooks.fan_out() == 0  # nothing more is owed to it
    assert await webhooks.deliverer.deliver_due() == 0
    assert len(receiver.received) == 1


async def test_per_sku_order_holds_while_the_receiver_fails_half_the_time(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks, wall_clock: ManualClock
) -> None:
    flips: dict[str, int] = {}

    def half(path: str, webhook_id: str, seen: int) -> int:
        flips[webhook_id] = flips.get(webhook_id, 0) + 1
        return 500 if (hash(webhook_id) + flips[webhook_id]) % 2 else 200

    receiver.answer = half
    await endpoint(db, receiver)
    changes = [{"sku": f"SKU-{i % 4}", "data": {"n": i}} for i in range(40)]
    await add_changes(db, *changes)
    await webhooks.fan_out()
    while any(r["state"] == "pending" for r in await deliveries(db)):
        await webhooks.deliverer.deliver_due()
        wall_clock.advance(BACKOFF_CAP_MS)
    assert all(r["state"] == "delivered" for r in await deliveries(db))
    assert any(r.status == 500 for r in receiver.received)  # it did fail, and was retried
    for sku in {c["sku"] for c in changes}:
        arrived = [r for r in receiver.received if r.payload["data"]["sku"] == sku]
        ns = [r.payload["data"]["n"] for r in arrived]
        # Each attempt of a delivery comes before any attempt of the next of its SKU.
        firsts = [n for i, n in enumerate(ns) if n not in ns[:i]]
        assert firsts == sorted(firsts) and ns == sorted(ns), (sku, ns)
        assert len(firsts) == 10


async def test_the_address_is_checked_again_at_delivery(
    db: asyncpg.Pool, receiver: Receiver, wall_clock: ManualClock
) -> None:
    """Registered where private targets were allowed, a name that now resolves to loopback
    is refused by a deliverer that does not allow them: nothing is sent, it is retried."""
    async with db.acquire() as conn:
        url = f"http://localhost:{receiver.port}/hook"
        found, _ = await register(conn, url, Filters(["availability_changed"]), True)
    await add_changes(db, {})
    await fan_out(db, wall_clock.now_ms)
    strict = Deliverer(db, allow_private=False, now_ms=wall_clock.now_ms)
    try:
        assert await strict.deliver_due() == 1
    finally:
        await strict.close()
    assert receiver.received == []
    [row] = await deliveries(db)
    assert row["endpoint_id"] == found.id and row["state"] == "pending"
    assert "loopback" in row["last_error"] and row["last_status"] is None


async def test_an_attempt_that_cannot_be_made_counts_as_failed_not_stuck(
    db: asyncpg.Pool, receiver: Receiver, webhooks: Webhooks
) -> None:
    """A secret that is not base64 (a row written by hand) made the attempt raise: the task
    died, the claim stayed leased and looped forever. It is a failed attempt now."""
    await endpoint(db, receiver)
    await db.execute("UPDATE webhook_endpoints SET secret = 'whsec_not*base64'")
    await add_changes(db, {"sku": "SKU-1"})
    await webhooks.fan_out()
    assert await webhooks.deliverer.deliver_due() == 1
    [row] = await deliveries(db)
    assert row["state"] == "pending" and row["attempts"] == 1
    assert "internal error" in row["last_error"]
    assert receiver.received == []
