"""Supply lifecycle (issue 10, finding 7): a purchase order that lands must stop counting as
incoming. Receiving moves its units to on hand and retires them from incoming in one step;
a supply can also be cancelled or re-dated. Each is one Lua call and one event."""

import asyncio
from datetime import date

import pytest

from atp import keys
from atp.events import read_events
from atp.limits import QTY_MAX
from atp.model import Channel, InvalidInput, StockResult, Supply
from engine.local import Engine

TODAY = date(2027, 3, 1)
DUE = date(2027, 3, 10)
LATER = date(2027, 3, 20)


async def _promise(engine: Engine, qty: int) -> date | None:
    return await engine.availability.promise("A", qty, ["S1"], Channel.online, TODAY)


async def _supplies(engine: Engine) -> list[Supply]:
    return (await engine.availability.supplies([("A", "S1")]))[("A", "S1")]


async def _last_event(engine: Engine):  # type: ignore[no-untyped-def]
    return (await read_events(engine.redis, keys.partition_of_sku("A")))[-1]


async def test_a_received_purchase_order_stops_counting_as_incoming(engine: Engine) -> None:
    await engine.stock.add_incoming("A", "S1", "po-1", 10, DUE)
    assert await _promise(engine, 10) == DUE
    received = await engine.stock.receive_incoming("A", "S1", "po-1", op_id="rcv-1")
    assert received.ok and received.received == 10 and received.remaining == 0
    position = await engine.availability.position("A", "S1")
    assert (position.on_hand, position.incoming) == (10, 0)
    assert await _supplies(engine) == []
    # Ten on hand, nothing coming: 20 units can never be promised (not on DUE, twice counted).
    assert await _promise(engine, 20) is None
    assert await _promise(engine, 10) == TODAY


async def test_a_partial_receipt_shrinks_the_supply_in_one_event(engine: Engine) -> None:
    await engine.stock.add_incoming("A", "S1", "po-1", 10, DUE)
    out = await engine.stock.receive_incoming("A", "S1", "po-1", 4, reason="first pallet")
    assert (out.result, out.received, out.retired, out.remaining) == ("applied", 4, 4, 6)
    assert (out.position.on_hand, out.position.incoming) == (4, 6)
    assert await _supplies(engine) == [Supply("po-1", 6, DUE)]
    assert await _promise(engine, 4) == TODAY and await _promise(engine, 10) == DUE
    event = await _last_event(engine)
    assert (event.type, event.d_on_hand, event.d_incoming) == ("incoming_received", 4, -4)
    assert event.reason == "po-1:first pallet" and event.id == out.event_id
    rest = await engine.stock.receive_incoming("A", "S1", "po-1")  # no qty: all that is left
    assert (rest.received, rest.remaining, rest.position.on_hand, rest.position.incoming) == (
        6,
        0,
        10,
        0,
    )
    assert await _supplies(engine) == []


async def test_an_over_receipt_is_accepted_and_reported(engine: Engine) -> None:
    await engine.stock.add_incoming("A", "S1", "po-1", 5, DUE)
    out = await engine.stock.receive_incoming("A", "S1", "po-1", 7)
    assert out.result is StockResult.applied
    assert (out.received, out.retired, out.over_received, out.remaining) == (7, 5, 2, 0)
    assert (out.position.on_hand, out.position.incoming) == (7, 0)
    event = await _last_event(engine)
    assert (event.d_on_hand, event.d_incoming) == (7, -5)


async def test_a_retried_receipt_never_adds_on_hand_twice(engine: Engine) -> None:
    await engine.stock.add_incoming("A", "S1", "po-1", 5, DUE)
    first = await engine.stock.receive_incoming("A", "S1", "po-1", op_id="rcv-1")
    again = await engine.stock.receive_incoming("A", "S1", "po-1", op_id="rcv-1")
    assert again.result is StockResult.duplicate and again.event_id == first.event_id
    assert (again.received, again.position.on_hand) == (5, 5)
    # Without an op id the supply is gone: refused, nothing added.
    bare = await engine.stock.receive_incoming("A", "S1", "po-1")
    assert bare.result is StockResult.supply_not_found and bare.position.on_hand == 5
    other = await engine.stock.receive_incoming("A", "S1", "po-1", 2, op_id="rcv-1")
    assert other.result is StockResult.op_conflict
    assert (await engine.availability.position("A", "S1")).on_hand == 5


async def test_concurrent_receipts_of_the_same_supply_receive_it_once(engine: Engine) -> None:
    await engine.stock.add_incoming("A", "S1", "po-1", 5, DUE)
    outs = await asyncio.gather(
        *(engine.stock.receive_incoming("A", "S1", "po-1") for _ in range(10))
    )
    assert sorted(o.result.value for o in outs) == ["applied"] + ["supply_not_found"] * 9
    assert (await engine.availability.position("A", "S1")).on_hand == 5


async def test_cancel_retires_the_remaining_qty_only(engine: Engine) -> None:
    await engine.stock.adjust("A", "S1", 3, "receipt")
    await engine.stock.add_incoming("A", "S1", "po-1", 10, DUE)
    await engine.stock.receive_incoming("A", "S1", "po-1", 4)
    out = await engine.stock.cancel_incoming("A", "S1", "po-1", op_id="c-1")
    assert (out.result, out.retired, out.remaining) == ("applied", 6, 0)
    assert (out.position.on_hand, out.position.incoming) == (7, 0)
    event = await _last_event(engine)
    assert (event.type, event.d_on_hand, event.d_incoming, event.reason) == (
        "incoming_cancelled",
        0,
        -6,
        "po-1",
    )
    again = await engine.stock.cancel_incoming("A", "S1", "po-1", op_id="c-1")
    assert again.result is StockResult.duplicate and again.event_id == out.event_id
    gone = await engine.stock.cancel_incoming("A", "S1", "po-1")
    assert gone.result is StockResult.supply_not_found
    assert await _supplies(engine) == [] and await _promise(engine, 8) is None


async def test_redate_moves_the_promise_date_not_the_qty(engine: Engine) -> None:
    await engine.stock.add_incoming("A", "S1", "po-1", 10, DUE)
    out = await engine.stock.redate_incoming("A", "S1", "po-1", LATER, op_id="d-1")
    assert (out.result, out.remaining, out.position.incoming) == ("applied", 10, 10)
    assert await _supplies(engine) == [Supply("po-1", 10, LATER)]
    assert await _promise(engine, 10) == LATER
    event = await _last_event(engine)
    assert (event.type, event.d_incoming, event.incoming) == ("incoming_redated", 0, 10)
    assert event.reason.startswith("po-1@")
    again = await engine.stock.redate_incoming("A", "S1", "po-1", LATER, op_id="d-1")
    assert again.result is StockResult.duplicate and again.event_id == out.event_id
    same = await engine.stock.redate_incoming("A", "S1", "po-1", LATER)
    assert same.result is StockResult.duplicate and same.event_id is None
    assert (await _last_event(engine)).id == out.event_id  # no event for no change
    missing = await engine.stock.redate_incoming("A", "S1", "po-2", LATER)
    assert missing.result is StockResult.supply_not_found


async def test_a_receipt_past_the_on_hand_limit_is_refused_untouched(engine: Engine) -> None:
    await engine.stock.adjust("A", "S1", QTY_MAX - 2, "receipt")
    await engine.stock.add_incoming("A", "S1", "po-1", 5, DUE)
    out = await engine.stock.receive_incoming("A", "S1", "po-1")
    assert out.result is StockResult.over_limit and out.position.incoming == 5
    assert await _supplies(engine) == [Supply("po-1", 5, DUE)]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.receive_incoming("A", "S1", "po-1", 0), "qty"),
        (lambda s: s.receive_incoming("A", "S1", "po-1", QTY_MAX + 1), "qty"),
        (lambda s: s.receive_incoming("A", "S1", "po-1", True), "qty"),
        (lambda s: s.receive_incoming("A", "S1", "po-1", reason=""), "reason"),
        (lambda s: s.receive_incoming("A", "S1", "po:1"), "supply_id"),
        (lambda s: s.receive_incoming("A", "S1", "po-1", op_id="a b"), "op_id"),
        (lambda s: s.cancel_incoming("A", "", "po-1"), "location"),
        (lambda s: s.redate_incoming("A", "S1", "po-1", "2027-01-01"), "expected_on"),
    ],
)
async def test_bad_input_names_its_field(engine: Engine, call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        await call(engine.stock)
    assert refused.value.field == field


async def test_the_replica_shows_a_receipt(redis_url: str) -> None:
    engine = Engine.connect(redis_url, replica=True)
    try:
        await engine.start_replica()
        replica = engine.replica
        assert replica is not None
        await engine.stock.add_incoming("A", "S1", "po-1", 10, DUE)
        out = await engine.stock.receive_incoming("A", "S1", "po-1", 4)
        tip = out.event_id.split("-", 1) if out.event_id else ["0", "0"]
        assert await replica.caught_up([(int(tip[0]), tip[1])], 5.0)
        assert list(replica.positions.get("A", "S1"))[:4] == [4, 0, 0, 6]
    finally:
        await engine.close()


async def test_the_replica_supplies_follow_a_receipt(redis_url: str) -> None:
    engine = Engine.connect(redis_url, replica=True)
    try:
        await engine.start_replica()
        replica = engine.replica
        assert replica is not None
        await engine.stock.add_incoming("A", "S1", "po-1", 10, DUE)
        await engine.stock.add_incoming("A", "S1", "po-2", 3, DUE)
        await engine.stock.receive_incoming("A", "S1", "po-1", 4)
        await engine.stock.cancel_incoming("A", "S1", "po-2")
        out = await engine.stock.redate_incoming("A", "S1", "po-1", LATER)
        tip = out.event_id.split("-", 1) if out.event_id else ["0", "0"]
        assert await replica.caught_up([(int(tip[0]), tip[1])], 5.0)
        assert replica.positions.supplies_at("A", "S1") == [Supply("po-1", 6, LATER)]
    finally:
        await engine.close()
