"""The hand-written rule-chain router the retail day compares the engine's against."""

from simulation.rule_chain import fewest, shipments

SITES = {"NEAR": (59.9, 10.7), "FAR": (60.5, 11.5), "MID": (60.1, 11.0)}
HOME = (59.9, 10.7)


def test_one_location_holding_everything_ships_it_alone_even_if_farther() -> None:
    atp = {("a", "NEAR"): 1, ("a", "FAR"): 1, ("b", "FAR"): 1}
    assert shipments({"a": 1, "b": 1}, atp, SITES, HOME) == 1


def test_otherwise_each_line_goes_to_its_nearest_and_can_split_more_than_needed() -> None:
    # Nobody holds a, b and c: a from NEAR, b from MID, c from FAR is 3 boxes, where
    # MID (a, b) and FAR (c) would have been 2.
    atp = {
        ("a", "NEAR"): 1, ("a", "MID"): 1,
        ("b", "MID"): 1,
        ("c", "FAR"): 1, ("a", "FAR"): 1,
    }  # fmt: skip
    assert shipments({"a": 1, "b": 1, "c": 1}, atp, SITES, HOME) == 3


def test_a_line_ships_whole_and_an_uncoverable_order_has_no_plan() -> None:
    atp = {("a", "NEAR"): 1, ("a", "FAR"): 1}
    assert shipments({"a": 1}, atp, SITES, HOME) == 1
    assert shipments({"a": 2}, atp, SITES, HOME) is None
    assert shipments({"a": 1, "b": 1}, atp, SITES, HOME) is None


def test_fewest_finds_the_smallest_cover_the_rule_chain_misses() -> None:
    atp = {
        ("a", "NEAR"): 1, ("a", "MID"): 1,
        ("b", "MID"): 1,
        ("c", "FAR"): 1, ("a", "FAR"): 1,
    }  # fmt: skip
    assert fewest({"a": 1, "b": 1, "c": 1}, atp) == 2
    assert fewest({"a": 1}, atp) == 1
    assert fewest({"a": 2}, atp) is None
