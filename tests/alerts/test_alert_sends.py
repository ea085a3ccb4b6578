"""From a back_in_stock change to alert.triggered deliveries: the per-unit cap (oldest
first, the rest waiting for the next restock), the availability re-check at send time, the
windows, the consumer's cursor, and one resend to non-openers (manual clock)."""

import asyncio
from datetime import date, timedelta

from alerts import consume
from alerts.send import send_pass
from alerts.stats import opened
from alerts.subscriptions import unsubscribe
from alerts.worker import AlertsWorker
from atp.model import Channel
from support.alerts_world import World


async def test_each_unit_tells_two_oldest_first_and_the_rest_wait_for_the_next_restock(
    world: World,
) -> None:
    subs = [await world.sign_up(f"c{i}@example.no") for i in range(8)]
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 3, "receipt")
    await world.back_in_stock()
    assert await world.run() == (1, 6, 0)  # 3 units x 2 per unit
    told = await world.alerts()
    assert [a["subscription_id"] for a in told] == [s.id for s in subs[:6]]
    states = await world.states()
    assert [states[s.id] for s in subs] == ["notified"] * 6 + ["waiting"] * 2
    first = told[0]
    assert first["contact"] == {"email": "c0@example.no"}
    assert first["sku"] == "SKU-1" and first["scope"] == {"location": "OSLO-1"}
    assert first["window"]["text"] == "in stock at Oslo Sentrum now"
    assert first["available"] == [{"location": "OSLO-1", "name": "Oslo Sentrum", "atp": 3}]
    assert first["resend"] is False and first["unsubscribe_token"] == subs[0].unsubscribe_token
    assert first["trigger"]["cause"] == "adjusted"
    assert await world.run() == (0, 0, 0)  # told once: nothing more for this restock

    # Sold out, then one unit back: the two still waiting are told.
    await world.engine.stock.adjust("SKU-1", "OSLO-1", -3, "sale")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    await world.back_in_stock()
    assert await world.run() == (1, 2, 0)
    assert [a["subscription_id"] for a in (await world.alerts())[6:]] == [s.id for s in subs[6:]]


async def test_stock_gone_again_at_send_time_tells_nobody(world: World) -> None:
    sub = await world.sign_up("kari@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    await world.back_in_stock()
    await world.engine.stock.adjust("SKU-1", "OSLO-1", -1, "sale")  # before the send step
    assert await world.run() == (1, 0, 0)
    assert await world.alerts() == []
    assert (await world.states())[sub.id] == "waiting"
    pending = await world.pool.fetchval("SELECT count(*) FROM alert_triggers WHERE done_at IS NULL")
    assert pending == 0  # the restock is over; the next one triggers again


async def test_reserved_and_safety_stock_are_not_there_for_online(world: World) -> None:
    await world.sign_up("kari@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 2, "receipt")
    await world.engine.stock.set_safety("SKU-1", "OSLO-1", 2)
    await world.back_in_stock()
    assert await world.run() == (1, 0, 0)


async def test_incoming_supply_tells_the_next_ones_its_promise_date(world: World) -> None:
    subs = [await world.sign_up(f"c{i}@example.no") for i in range(5)]
    day = date(2026, 12, 5)
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    await world.engine.stock.add_incoming("SKU-1", "OSLO-1", "PO-1", 1, day)
    await world.engine.stock.add_incoming("SKU-1", "OSLO-1", "PO-2", 9, day + timedelta(days=30))
    await world.back_in_stock()
    assert await world.run() == (1, 4, 0)  # 1 unit now, 1 by 5 Dec; the one a month out: no
    texts = [a["window"]["text"] for a in await world.alerts()]
    assert (
        texts
        == ["in stock at Oslo Sentrum now"] * 2
        + ["expected in stock at Oslo Sentrum by Sat 5 Dec 2026"] * 2
    )
    assert (await world.alerts())[2]["window"]["date"] == "2026-12-05"
    assert (await world.states())[subs[4].id] == "waiting"


async def test_a_group_names_the_store_each_unit_is_at(world: World) -> None:
    subs = [await world.sign_up(f"c{i}@example.no", group="oslo") for i in range(3)]
    await world.sign_up("c0@example.no")  # OSLO-1's own queue: another scope, not told
    await world.engine.stock.adjust("SKU-1", "OSLO-2", 1, "receipt")
    await world.engine.stock.adjust("SKU-1", "BGO-1", 5, "receipt")  # not in the group
    await world.back_in_stock(group="oslo")
    assert await world.run() == (1, 2, 0)
    told = await world.alerts()
    assert [a["subscription_id"] for a in told] == [s.id for s in subs[:2]]
    assert told[0]["scope"] == {"group": "oslo"}
    assert told[0]["window"]["text"] == "in stock at Storo now"
    assert told[0]["available"] == [{"location": "OSLO-2", "name": "Storo", "atp": 1}]


async def test_the_consumer_starts_at_the_head_and_takes_each_change_once(world: World) -> None:
    await world.pool.execute("DELETE FROM change_consumers")
    await world.sign_up("kari@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 5, "receipt")
    await world.back_in_stock()  # before the consumer existed: a new deployment skips it
    assert await world.run() == (0, 0, 0)  # its first pass starts at the head
    await world.other_change()
    await world.back_in_stock(sku="SKU-2")  # nobody waits for SKU-2: no trigger
    await world.back_in_stock(channel=Channel.store.value)  # the store counter's: not online
    seq = await world.back_in_stock()

    async def one() -> int:
        async with world.pool.acquire() as conn:
            return await consume.consume(conn)

    assert sorted(await asyncio.gather(one(), one())) == [0, 1]  # two processes: once
    at = await world.pool.fetchval("SELECT seq FROM change_consumers WHERE name = 'alerts'")
    assert at == seq
    assert await world.run() == (0, 1, 0)


async def test_a_bounded_batch_moves_the_cursor_past_what_it_read(world: World) -> None:
    await world.sign_up("kari@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    for _ in range(3):
        await world.other_change()
    await world.back_in_stock()
    async with world.pool.acquire() as conn:
        assert await consume.consume(conn, batch_max=2) == 0
        assert await consume.consume(conn, batch_max=2) == 1
        assert await consume.consume(conn, batch_max=2) == 0


async def test_an_unsubscribed_contact_is_never_told(world: World) -> None:
    gone = await world.sign_up("gone@example.no")
    kept = await world.sign_up("kept@example.no")
    async with world.pool.acquire() as conn:
        await unsubscribe(conn, world.worker.now(), token=gone.unsubscribe_token)
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 5, "receipt")
    await world.back_in_stock()
    await world.run()
    assert [a["subscription_id"] for a in await world.alerts()] == [kept.id]


async def test_one_resend_to_those_who_did_not_open_after_the_delay(world: World) -> None:
    subs = [await world.sign_up(f"c{i}@example.no") for i in range(3)]
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 2, "receipt")
    await world.back_in_stock()
    assert await world.run() == (1, 3, 0)
    sends = {a["subscription_id"]: a["send_id"] for a in await world.alerts()}
    async with world.pool.acquire() as conn:
        assert await opened(conn, sends[subs[0].id], world.worker.now()) is not None
    world.advance_s(3599)
    assert await world.run() == (0, 0, 0)  # not yet
    world.advance_s(1)
    assert await world.run() == (0, 0, 2)
    resent = (await world.alerts())[3:]
    assert sorted(a["send_id"] for a in resent) == sorted(sends[s.id] for s in subs[1:])
    assert all(a["resend"] is True for a in resent)
    assert resent[0]["window"]["text"] == "in stock at Oslo Sentrum now"
    world.advance_s(7 * 24 * 3600)
    assert await world.run() == (0, 0, 0)  # once


async def test_no_resend_once_the_stock_is_gone(world: World) -> None:
    await world.sign_up("kari@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    await world.back_in_stock()
    assert await world.run() == (1, 1, 0)
    await world.engine.stock.adjust("SKU-1", "OSLO-1", -1, "sale")
    world.advance_s(3600)
    assert await world.run() == (0, 0, 0)
    skipped = await world.pool.fetchval("SELECT resend_skipped FROM alert_sends")
    assert skipped == "unavailable"
    assert len(await world.alerts()) == 1


async def test_restocks_wait_in_postgresql_while_the_ledger_is_rebuilt(world: World) -> None:
    await world.sign_up("kari@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    await world.back_in_stock()
    world.worker.ledger_ready = lambda: False  # Redis reads low meanwhile: do not judge
    assert await world.run() == (1, 0, 0)
    world.worker.ledger_ready = lambda: True
    assert await world.run() == (0, 1, 0)


async def test_a_restock_larger_than_a_pass_goes_on_where_it_stopped(world: World) -> None:
    subs = [await world.sign_up(f"c{i}@example.no") for i in range(6)]
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 2, "receipt")  # 2 units x 2: four
    await world.back_in_stock()

    async def pass_of(sends_max: int) -> int:
        w = world.worker
        async with world.pool.acquire() as conn:
            await consume.consume(conn)
            return await send_pass(conn, w.availability, w.settings, w.now(), sends_max)

    assert await pass_of(3) == 3
    assert await pass_of(3) == 1  # the fourth, not another four
    assert await pass_of(3) == 0
    states = await world.states()
    assert [states[s.id] for s in subs] == ["notified"] * 4 + ["waiting"] * 2


async def test_two_processes_tell_each_subscriber_once(world: World) -> None:
    w = world.worker
    other = AlertsWorker(world.pool, world.engine.availability, w.settings, w.now)
    for i in range(10):
        await world.sign_up(f"c{i}@example.no")
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 4, "receipt")
    await world.back_in_stock()
    results = await asyncio.gather(world.run(), other.run_once(), world.run(), other.run_once())
    assert sum(r[0] for r in results) == 1 and sum(r[1] for r in results) == 8
    told = [a["subscription_id"] for a in await world.alerts()]
    assert len(told) == len(set(told)) == 8
