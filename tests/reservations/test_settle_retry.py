"""A fulfil cut after some of its legs (a lost Redis, a killed worker) and retried with its
op id settles the legs it did not reach (issue 17: the fault suite saw an acknowledged
pickup whose second leg stayed reserved, because a receipt on the first leg answered the
whole retry as a duplicate)."""

from atp.keys import partition_of_sku
from engine.local import Engine
from reservations import calls
from reservations.model import Line, State, TransitionResult
from reservations.settle import request_digest

STORE = "S1"
CANDIDATES = [f"CUT-{i}" for i in range(40)]
FIRST = CANDIDATES[0]
SECOND = next(s for s in CANDIDATES if partition_of_sku(s) != partition_of_sku(FIRST))


async def _position(engine: Engine, sku: str) -> tuple[int, int]:
    p = await engine.availability.position(sku, STORE)
    return p.on_hand, p.reserved


async def test_a_retry_settles_the_legs_its_first_attempt_did_not_reach(engine: Engine) -> None:
    for sku in (FIRST, SECOND):
        await engine.stock.adjust(sku, STORE, 5, "receipt")
    lines = [Line(FIRST, STORE, 2), Line(SECOND, STORE, 1)]
    assert (await engine.reservations.reserve("R-cut", "online", lines, 600)).ok
    assert (await engine.reservations.commit("R-cut")).ok
    # The first attempt settled the first leg only, with its op receipt.
    digest = request_digest("fulfilled", None)
    first_leg = partition_of_sku(FIRST)
    cut = await calls.leg_settle(
        engine.redis, "R-cut", first_leg, "fulfilled", True, [(1, FIRST, STORE, 0)],
        "op-ship", digest, 0,
    )  # fmt: skip
    assert cut.result is TransitionResult.applied
    retry = await engine.reservations.fulfill("R-cut", None, "op-ship")
    assert retry.result is TransitionResult.applied
    assert retry.reservation is not None and retry.reservation.state is State.fulfilled
    assert await _position(engine, FIRST) == (3, 0)  # fulfilled once
    assert await _position(engine, SECOND) == (4, 0)
    again = await engine.reservations.fulfill("R-cut", None, "op-ship")
    assert again.result is TransitionResult.duplicate
    assert await _position(engine, FIRST) == (3, 0) and await _position(engine, SECOND) == (4, 0)
