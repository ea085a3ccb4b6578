"""record_order, which the order service will call for every order: an order that names
an alert send, or comes from its contact for its SKU within 48 hours, converts it, once."""

from datetime import datetime, timedelta

from alerts.conversions import record_order
from alerts.stats import opened, stats
from support.alerts_world import World

HOUR = timedelta(hours=1)


async def _sent(world: World, contact: str = "kari@example.no") -> tuple[str, datetime]:
    """One alert send to ``contact`` for SKU-1; its id and when it was sent."""
    await world.sign_up(contact)
    await world.engine.stock.adjust("SKU-1", "OSLO-1", 1, "receipt")
    await world.back_in_stock()
    await world.run()
    sends = [a for a in await world.alerts() if a["resend"] is False]
    return sends[-1]["send_id"], world.worker.now()


async def _order(world: World, order_id: str, *args: object) -> bool:
    async with world.pool.acquire() as conn:
        return await record_order(conn, order_id, *args)  # type: ignore[arg-type]


async def test_an_order_naming_the_send_within_48_hours_converts(world: World) -> None:
    send_id, at = await _sent(world)
    assert await _order(world, "o-1", None, None, ["SKU-9"], send_id, at + 47 * HOUR)
    assert not await _order(world, "o-2", None, None, ["SKU-1"], send_id, at + 49 * HOUR)
    assert not await _order(world, "o-3", None, None, ["SKU-1"], "snd_none", at + HOUR)
    assert not await _order(world, "o-4", None, None, ["SKU-1"], send_id, at - HOUR)
    rows = await world.pool.fetch("SELECT order_id, send_id, how FROM alert_conversions")
    assert [tuple(r) for r in rows] == [("o-1", send_id, "named")]


async def test_the_same_contact_and_sku_within_48_hours_converts(world: World) -> None:
    _, at = await _sent(world, "+47 912 34 567")
    assert await _order(world, "o-1", None, "0047 91234567", ["SKU-0", "SKU-1"], None, at + HOUR)
    assert not await _order(world, "o-2", None, "+4791234567", ["SKU-2"], None, at + HOUR)
    assert not await _order(world, "o-3", None, "+4791234568", ["SKU-1"], None, at + HOUR)
    assert not await _order(world, "o-4", None, "+4791234567", ["SKU-1"], None, at + 49 * HOUR)
    assert not await _order(world, "o-5", "not an email", "garbage", ["SKU-1"], None, at + HOUR)
    how = await world.pool.fetchval("SELECT how FROM alert_conversions WHERE order_id = 'o-1'")
    assert how == "contact"


async def test_an_order_counts_once(world: World) -> None:
    _, at = await _sent(world)
    for _ in range(3):
        assert await _order(world, "o-1", "KARI@example.no", None, ["SKU-1"], None, at + HOUR)
    assert await world.pool.fetchval("SELECT count(*) FROM alert_conversions") == 1


async def test_a_resend_restarts_the_48_hours(world: World) -> None:
    _, at = await _sent(world)
    world.advance_s(3600)  # the world's resend delay
    assert (await world.run())[2] == 1
    later = at + 49 * HOUR  # past 48 h of the send, within 48 h of its resend
    assert await _order(world, "o-1", "kari@example.no", None, ["SKU-1"], None, later)


async def test_the_figures_follow_sends_opens_and_orders(world: World) -> None:
    first, at = await _sent(world, "a@example.no")
    await _sent(world, "b@example.no")
    async with world.pool.acquire() as conn:
        await opened(conn, first, at)
        await opened(conn, first, at + HOUR)  # the first open is kept
        figures = await stats(conn)
        assert (figures.sends, figures.opens, figures.orders_from_alerts_48h) == (2, 1, 0)
        assert await record_order(conn, "o-1", "a@example.no", None, ["SKU-1"], None, at)
        figures = await stats(conn, "SKU-1")
        assert figures.orders_from_alerts_48h == 1 and figures.conversion_rate == 0.5
        assert figures.open_rate == 0.5
        opened_at = await conn.fetchval("SELECT opened_at FROM alert_sends WHERE id = $1", first)
        assert opened_at == at
