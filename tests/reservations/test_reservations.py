"""The reservation lifecycle, one behaviour per test, on real Redis."""

from atp import keys
from atp.clock import ManualClock
from atp.redis_io import hash_reply
from engine.local import Engine
from reservations.model import Line, ReserveResult, State, TransitionResult


async def _stock(engine: Engine, sku: str = "TEE", on_hand: int = 5, safety: int = 2) -> None:
    await engine.stock.adjust(sku, "OSL-1", on_hand, "receipt")
    await engine.stock.set_safety(sku, "OSL-1", safety)


async def test_the_counter_may_sell_into_safety_stock_but_online_may_not(engine: Engine) -> None:
    await _stock(engine)
    online = await engine.reservations.reserve("web", "online", [Line("TEE", "OSL-1", 4)], 60)
    assert online.result is ReserveResult.insufficient
    assert [(s.requested, s.available) for s in online.shortfalls] == [(4, 3)]
    counter = await engine.reservations.reserve("pos", "store", [Line("TEE", "OSL-1", 4)], 60)
    assert counter.result is ReserveResult.reserved


async def test_a_refusal_names_every_short_line_and_holds_nothing(engine: Engine) -> None:
    await _stock(engine, "A", 1, 0)
    await _stock(engine, "B", 9, 0)
    lines = [Line("A", "OSL-1", 2), Line("B", "OSL-1", 3), Line("C", "OSL-1", 1)]
    outcome = await engine.reservations.reserve("r", "online", lines, 60)
    assert {(s.sku, s.available) for s in outcome.shortfalls} == {("A", 1), ("C", 0)}
    assert (await engine.availability.position("B", "OSL-1")).reserved == 0


async def test_retry_returns_the_original_and_another_body_conflicts(engine: Engine) -> None:
    await _stock(engine)
    first = await engine.reservations.reserve("r", "online", [Line("TEE", "OSL-1", 2)], 60)
    again = await engine.reservations.reserve("r", "online", [Line("TEE", "OSL-1", 2)], 60)
    other = await engine.reservations.reserve("r", "online", [Line("TEE", "OSL-1", 1)], 60)
    assert (first.result, again.result, other.result) == (
        ReserveResult.reserved,
        ReserveResult.already_exists,
        ReserveResult.conflict,
    )
    assert again.reservation == first.reservation
    assert (await engine.availability.position("TEE", "OSL-1")).reserved == 2


async def test_an_expired_hold_cannot_commit_and_an_extended_one_can(
    engine: Engine, clock: ManualClock
) -> None:
    await _stock(engine)
    await engine.reservations.reserve("slow", "online", [Line("TEE", "OSL-1", 1)], 10)
    await engine.reservations.reserve("late", "online", [Line("TEE", "OSL-1", 1)], 10)
    clock.advance(9_000)
    assert (await engine.reservations.extend("slow", 30)).result is TransitionResult.applied
    clock.advance(2_000)
    late = await engine.reservations.commit("late")
    assert late.result is TransitionResult.expired
    assert late.reservation is not None and late.reservation.state is State.expired
    assert (await engine.reservations.commit("slow")).result is TransitionResult.applied
    assert (await engine.availability.position("TEE", "OSL-1")).reserved == 1


async def test_partial_fulfil_then_release_ends_fulfilled(engine: Engine) -> None:
    await _stock(engine, on_hand=10, safety=0)
    await engine.reservations.reserve("o", "online", [Line("TEE", "OSL-1", 3)], 60)
    await engine.reservations.commit("o")
    part = await engine.reservations.fulfill("o", [Line("TEE", "OSL-1", 2)], op_id="ship-1")
    retry = await engine.reservations.fulfill("o", [Line("TEE", "OSL-1", 2)], op_id="ship-1")
    assert (part.result, retry.result) == (TransitionResult.applied, TransitionResult.duplicate)
    too_much = await engine.reservations.fulfill("o", [Line("TEE", "OSL-1", 2)])
    assert too_much.result is TransitionResult.exceeds_open
    assert too_much.reservation is not None and too_much.reservation.state is State.committed
    rest = await engine.reservations.release("o")
    assert rest.reservation is not None and rest.reservation.state is State.fulfilled
    assert (await engine.reservations.release("o")).result is TransitionResult.duplicate
    position = await engine.availability.position("TEE", "OSL-1")
    assert (position.on_hand, position.reserved) == (8, 0)


async def test_a_held_reservation_cannot_be_fulfilled(engine: Engine) -> None:
    await _stock(engine)
    await engine.reservations.reserve("h", "store", [Line("TEE", "OSL-1", 1)], 60)
    outcome = await engine.reservations.fulfill("h")
    assert outcome.result is TransitionResult.illegal
    assert "held" in outcome.detail


async def test_a_count_below_reserved_is_accepted_and_shows_the_position_short(
    engine: Engine,
) -> None:
    await _stock(engine, on_hand=5, safety=0)
    await engine.reservations.reserve("h", "store", [Line("TEE", "OSL-1", 4)], 60)
    counted = await engine.stock.set_on_hand("TEE", "OSL-1", 2, expected_on_hand=5)
    assert counted.ok and counted.position.short == 2
    stale = await engine.stock.set_on_hand("TEE", "OSL-1", 9, expected_on_hand=5)
    assert stale.result.value == "expected_mismatch" and stale.position.on_hand == 2


async def test_on_hand_never_passes_the_quantity_limit(engine: Engine) -> None:
    from atp.limits import QTY_MAX

    assert (await engine.stock.adjust("TEE", "OSL-1", QTY_MAX, "receipt")).ok
    over = await engine.stock.adjust("TEE", "OSL-1", 1, "receipt")
    assert over.result.value == "over_limit" and over.position.on_hand == QTY_MAX


async def test_a_hold_writes_only_what_a_reader_cannot_derive(engine: Engine) -> None:
    """atp/events.py: no zero deltas, no ATP; the held event carries its header's fields
    (the journal reads them there); a leg writes no zero counts and no reservation id."""
    await _stock(engine, "A", 5, 1)
    await engine.reservations.reserve("r", "online", [Line("A", "OSL-1", 2)], 60)
    redis = engine.redis
    last = await redis.command("XREVRANGE", keys.stream(keys.partition_of_sku("A")), "+", "-")
    reserved = hash_reply(last[0][1])
    assert reserved == {
        "t": "reserved", "ts": reserved["ts"], "sku": "A", "loc": "OSL-1", "oh": "5",
        "rs": "2", "sf": "1", "in": "0", "drs": "2", "why": "online", "rid": "r",
    }  # fmt: skip
    home = keys.stream(keys.partition_of_reservation("r"))
    held = hash_reply((await redis.command("XREVRANGE", home, "+", "-", "COUNT", 1))[0][1])
    header = hash_reply(await redis.command("HGETALL", keys.header("r")))
    assert (held["t"], held["why"], held["ts"]) == ("reservation_held", "online", header["ts"])
    assert (held["d"], held["exp"], held["parts"]) == (header["d"], header["exp"], header["parts"])
    leg = hash_reply(await redis.command("HGETALL", keys.leg(keys.partition_of_sku("A"), "r")))
    assert set(leg) == {"d", "st", "ch", "n", "s1", "l1", "q1", "o1"}
