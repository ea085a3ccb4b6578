"""The derived events and the feed's filters: pure rules, no server."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from changes.derive import Deriver, JournalRow, crossings
from changes.filters import ChangeFilter
from changes.store import StoredChange


@given(st.lists(st.integers(0, 6), min_size=2, max_size=40), st.integers(0, 4))
def test_each_line_is_crossed_once_per_move_across_it(levels: list[int], threshold: int) -> None:
    for before, after in itertools.pairwise(levels):
        kinds = crossings(before, after, threshold)
        assert ("availability_changed" in kinds) == (before != after)
        assert ("back_in_stock" in kinds) == (before == 0 < after)
        assert ("went_unavailable" in kinds) == (after == 0 < before)
        assert ("low_stock" in kinds) == (0 < after <= threshold < before)


def _row(seq: int, location: str, on_hand: int, d_on_hand: int) -> JournalRow:
    return JournalRow(
        f"0-{seq}-0", (seq, 0), "adjusted", "A", location,
        on_hand, 0, 0, 0, d_on_hand, 0, 0, 0, "receipt", seq,
    )  # fmt: skip


def test_a_group_total_moves_with_its_members() -> None:
    deriver = Deriver({"G": frozenset({"S1", "S2"})}, lambda sku, loc, grp: 0)
    rows = [_row(1, "S1", 2, 2), _row(2, "S2", 3, 3), _row(3, "S1", 0, -2), _row(4, "S2", 0, -3)]
    assert deriver.view.missing(rows, deriver.groups_of) == {"A": (1, 0)}
    deriver.view.put("A", {})
    changes, taken = deriver.derive(rows, str)
    assert taken == 4
    group = [
        (c.type, c.data["atp_before"], c.data["atp_after"])
        for c in changes
        if c.group == "G" and c.channel == "online"
    ]
    assert group == [
        ("availability_changed", 0, 2), ("back_in_stock", 0, 2),
        ("availability_changed", 2, 5),
        ("availability_changed", 5, 3),
        ("availability_changed", 3, 0), ("went_unavailable", 3, 0),
    ]  # fmt: skip


def test_a_group_redefinition_stops_the_batch_for_a_reload() -> None:
    deriver = Deriver({}, lambda sku, loc, grp: 0)
    define = JournalRow("0-1-0", (1, 0), "group_defined", "", "", 0, 0, 0, 0, 0, 0, 0, 0, "G:S1", 1)
    changes, taken = deriver.derive([define, _row(2, "S1", 1, 1)], str)
    assert (changes, taken) == ([], 1)
    assert deriver.groups_of == {"S1": ["G"]}


def _change(type_: str, sku: str = "A", location: str = "S1", group: str = "") -> StoredChange:
    return StoredChange(1, type_, sku, location, group, "online", "{}")


def test_filters_narrow_by_kind_and_a_group_covers_its_locations() -> None:
    members = {"G": frozenset({"S1"})}
    by_group = ChangeFilter.of(groups=["G"], memberships=members)
    assert by_group.matches(_change("adjusted"))
    assert not by_group.matches(_change("adjusted", location="S2"))
    assert by_group.matches(_change("back_in_stock", location="", group="G"))
    by_location = ChangeFilter.of(skus=["A"], locations=["S1"], types=["back_in_stock"])
    assert by_location.matches(_change("back_in_stock"))
    assert not by_location.matches(_change("adjusted"))
    assert not by_location.matches(_change("back_in_stock", sku="B"))
    assert not by_location.matches(_change("back_in_stock", location="", group="G"))
    assert by_location.matches(_change("reset", sku="", location=""))  # everyone hears it
