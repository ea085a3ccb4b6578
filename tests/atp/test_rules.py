"""The pure core, without servers."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atp.model import AdjustReason, Channel, InvalidInput, Position, Supply
from atp.rules import check_adjust_sign, group_atp, promise_date
from reservations.model import Line, LineStatus, State, derived_state, make_request

TODAY = date(2026, 12, 1)


def test_online_atp_keeps_safety_back_and_the_counter_does_not() -> None:
    p = Position("K", "S1", on_hand=10, reserved=3, safety=2)
    assert (p.atp(Channel.online), p.atp(Channel.store)) == (5, 7)
    short = Position("K", "S1", on_hand=2, reserved=5, safety=1)
    assert (short.atp(Channel.online), short.atp(Channel.store), short.short) == (0, 0, 3)


def test_a_group_sums_members_each_clamped_at_zero() -> None:
    members = [Position("K", "A", on_hand=1, reserved=4), Position("K", "B", on_hand=6)]
    assert group_atp(members, Channel.store) == 6


def test_promise_is_today_when_stock_covers_it() -> None:
    stock = [(Position("K", "A", on_hand=5), [])]
    assert promise_date(stock, 5, Channel.online, TODAY) == TODAY


def test_promise_waits_for_incoming_and_covers_an_oversold_member_first() -> None:
    a = (Position("K", "A", on_hand=0, reserved=2), [Supply("po1", 3, date(2026, 12, 5))])
    b = (Position("K", "B", on_hand=1), [Supply("po2", 4, date(2026, 12, 9))])
    assert promise_date([a, b], 2, Channel.online, TODAY) == date(2026, 12, 5)  # 1 + (3 - 2)
    assert promise_date([a, b], 3, Channel.online, TODAY) == date(2026, 12, 9)
    assert promise_date([a, b], 7, Channel.online, TODAY) is None


def test_late_supply_counts_from_today() -> None:
    late = (Position("K", "A"), [Supply("po1", 2, date(2026, 11, 20))])
    assert promise_date([late], 2, Channel.store, TODAY) == TODAY


@pytest.mark.parametrize(
    ("reason", "delta"),
    [
        (AdjustReason.receipt, -1),
        (AdjustReason.sale, 1),
        (AdjustReason.damage, 2),
        (AdjustReason.count_correction, 0),
    ],
)
def test_the_delta_sign_must_fit_the_reason(reason: AdjustReason, delta: int) -> None:
    with pytest.raises(InvalidInput):
        check_adjust_sign(reason, delta)


def test_the_request_digest_ignores_line_order() -> None:
    lines = [Line("B", "S1", 1), Line("A", "S2", 2)]
    first = make_request("r", "online", lines, 60)
    again = make_request("r", "online", lines[::-1], 60)
    other = make_request("r", "online", lines, 61)
    assert first.digest() == again.digest() != other.digest()


def test_a_reservation_with_nothing_open_has_ended() -> None:
    done = [LineStatus("A", "S", 2, open=0, fulfilled=1, released=1)]
    gone = [LineStatus("A", "S", 2, open=0, expired=2)]
    dropped = [LineStatus("A", "S", 2, open=0, released=2)]
    assert derived_state(State.committed, done) is State.fulfilled
    assert derived_state(State.expired, gone) is State.expired
    assert derived_state(State.held, dropped) is State.released
    assert (
        derived_state(State.committed, [LineStatus("A", "S", 2, open=1, fulfilled=1)])
        is State.committed
    )


def _cell(*values: object) -> tuple[object, ...]:
    return values


def test_packed_grid_reads_unknown_cells_as_zero() -> None:
    from atp.packed import PackedPositions

    packed = PackedPositions()
    packed.set("A", "S1", (3, 1, 0, 2, 4))
    packed.set_position("B", "S2", (5, 0, 1, 0))
    packed.set_position("A", "S1", (2, 1, 0, 2))  # keeps the oversold count
    assert packed.grid(["A", "B", "C"], ["S1", "S2"], Channel.online, _cell) == [
        ("A", "S1", 2, 1, 0, 2, 1, 4, 0),
        ("A", "S2", 0, 0, 0, 0, 0, 0, 0),
        ("B", "S1", 0, 0, 0, 0, 0, 0, 0),
        ("B", "S2", 5, 0, 1, 0, 4, 0, 0),
        ("C", "S1", 0, 0, 0, 0, 0, 0, 0),
        ("C", "S2", 0, 0, 0, 0, 0, 0, 0),
    ]


@given(
    cells=st.lists(st.tuples(*(st.integers(0, 50) for _ in range(3))), min_size=1, max_size=12),
    channel=st.sampled_from(list(Channel)),
)
def test_packed_grid_applies_the_position_rule(
    cells: list[tuple[int, int, int]], channel: Channel
) -> None:
    """The packed columns' ATP and shortfall are Position's, for every channel."""
    from atp.packed import PackedPositions

    packed = PackedPositions()
    locations = [f"L{i}" for i in range(len(cells))]
    for location, (on_hand, reserved, safety) in zip(locations, cells, strict=True):
        packed.set("A", location, (on_hand, reserved, safety, 0, 0))
    for row in packed.grid(["A"], locations, channel, _cell):
        position = packed.position("A", str(row[1]))
        assert row[6] == position.atp(channel)
        assert row[8] == position.short


@given(
    cells=st.lists(st.tuples(*(st.integers(0, 50) for _ in range(3))), min_size=1, max_size=12),
    channel=st.sampled_from(list(Channel)),
)
def test_packed_available_is_the_grid_without_empty_cells(
    cells: list[tuple[int, int, int]], channel: Channel
) -> None:
    """The plan's ATP-only read agrees with grid (and so with Position) cell by cell."""
    from atp.packed import PackedPositions

    packed = PackedPositions()
    locations = [f"L{i}" for i in range(len(cells))]
    for at, (location, (on_hand, reserved, safety)) in enumerate(
        zip(locations, cells, strict=True)
    ):
        packed.set("AB"[at % 2], location, (on_hand, reserved, safety, 0, 0))
    asked = [*locations, "unknown"]
    expected: dict[str, dict[str, int]] = {location: {} for location in asked}
    for row in packed.grid(["A", "B", "C"], asked, channel, _cell):
        if row[6]:
            expected[str(row[1])][str(row[0])] = int(str(row[6]))
    assert packed.available(["A", "B", "C"], asked, channel) == expected
