"""The order's situation and the reply support gives for it (orders/support_replies.py,
pure): each situation, its precedence, and the policy text it quotes."""

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from atp.model import Channel
from orders.model import Method, State
from orders.return_rules import PolicyRef, Return
from orders.support_replies import (
    PolicyText,
    Situation,
    choose,
    compose,
    is_late,
    reply,
    situation,
)
from orders.views import Customer, Order, Shipment

T0 = dt.datetime(2026, 12, 4, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
PICKUP = PolicyText("pickup", 3, "We hold your order for 72 hours after it is ready.")
RETURNS = PolicyText("returns", 1, "Return within 30 days.")
REFUNDS = PolicyText("refunds", 2, "Refunds start within 5 days.")


def order(
    state: State = State.confirmed,
    method: Method = Method.pickup,
    ready_at: dt.datetime | None = None,
    promised_at: dt.datetime | None = T0,
    shipped: list[Shipment] | None = None,
) -> Order:
    return Order(
        "o-1",
        state,
        Channel.online,
        method,
        "S1" if method is Method.pickup else None,
        None,
        Customer(email="kari@example.no"),
        [],
        "r-1",
        [],
        shipped or [],
        T0 - 2 * HOUR,
        promised_at=promised_at,
        promise_text="today by 11:00",
        ready_at=ready_at,
    )


def returned(state: str) -> Return:
    return Return(
        "ret-1", "o-1", "S1", state, [], PolicyRef("returns", 1), Decimal(1), T0, None, ""
    )


def test_a_pickup_not_ready_after_its_promise_is_late() -> None:
    assert not is_late(order(), T0)
    assert is_late(order(), T0 + HOUR)
    got = reply(order(), [], T0 + HOUR, [PICKUP, RETURNS])
    assert got.situation is Situation.late_pickup
    assert (got.policy, got.version) == ("pickup", 3)
    assert "today by 11:00" in got.text and "not ready yet" in got.text
    assert got.text.endswith(PICKUP.rendered)


def test_ready_after_the_promise_is_late_ready_before_is_ready_for_pickup() -> None:
    late = order(State.ready, ready_at=T0 + HOUR)
    assert situation(late, [], T0 + 2 * HOUR) is Situation.late_pickup
    assert "ready later" in reply(late, [], T0, [PICKUP]).text
    on_time = order(State.ready, ready_at=T0 - HOUR)
    assert situation(on_time, [], T0 + 2 * HOUR) is Situation.ready_for_pickup


def test_cancelled_and_shipped_orders_are_never_late() -> None:
    assert not is_late(order(State.cancelled), T0 + HOUR)
    assert not is_late(order(State.confirmed, Method.ship), T0 + HOUR)


def test_a_received_return_is_a_pending_refund_before_anything_else() -> None:
    late = order(State.picked_up, ready_at=T0 + HOUR)
    got = reply(late, [returned("received")], T0, [PICKUP, RETURNS, REFUNDS])
    assert got.situation is Situation.refund_pending
    assert (got.policy, got.version) == ("refunds", 2)
    # refunds without a version: the returns policy is quoted
    assert choose(Situation.refund_pending, [RETURNS]) == RETURNS
    initiated = situation(late, [returned("refund_initiated")], T0)
    assert initiated is Situation.late_pickup


def test_a_shipped_order_names_its_tracking() -> None:
    parcel = Shipment("s-1", "W1", [], "Posten", "TR-1", T0)
    got = reply(order(State.shipped, Method.ship, shipped=[parcel]), [], T0, [RETURNS])
    assert got.situation is Situation.shipped
    assert "Posten TR-1" in got.text and got.policy == "returns"


def test_without_a_policy_the_reply_quotes_none() -> None:
    got = compose(Situation.late_pickup, order(), None)
    assert got.policy is None and got.version is None


@given(
    state=st.sampled_from(list(State)),
    method=st.sampled_from(list(Method)),
    ready=st.one_of(st.none(), st.integers(-300, 300)),
    now=st.integers(-300, 300),
    refund=st.sampled_from([None, "pending", "received", "refund_initiated"]),
)
def test_every_order_has_one_situation_and_its_reply_quotes_the_policy_it_names(
    state: State, method: Method, ready: int | None, now: int, refund: str | None
) -> None:
    ready_at = None if ready is None else T0 + dt.timedelta(minutes=ready)
    o = order(state, method, ready_at=ready_at)
    at = T0 + dt.timedelta(minutes=now)
    found = [] if refund is None else [returned(refund)]
    got = reply(o, found, at, [PICKUP, RETURNS])
    assert got.situation is situation(o, found, at)
    assert (got.situation is Situation.refund_pending) == (refund == "received")
    if got.situation is Situation.late_pickup:
        assert method in (Method.pickup, Method.curbside)
        assert (ready_at or at) > T0
    quoted = {p.name: p for p in (PICKUP, RETURNS)}.get(got.policy or "")
    if quoted is None:
        assert got.version is None
    else:
        assert got.version == quoted.version and got.text.endswith(quoted.rendered)
    assert "o-1" in got.text
