"""The retail day's checks fail when they should: on hand-made outcomes, not a day."""

import datetime as dt
from types import SimpleNamespace
from typing import Any

from simulation import checks
from simulation.log import DayLog, RegisterSale, ShipChoice

AT = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)


def _outcome(log: DayLog, **fields: Any) -> Any:
    api = {"kpis": [], "by_store": [], "by_channel": []}
    return SimpleNamespace(sim=SimpleNamespace(log=log, failures=[]), api_kpis=api, **fields)


def _ships(*choices: tuple[int, int, int]) -> DayLog:
    log = DayLog()
    log.ships = [ShipChoice(f"o{i}", e, r, f) for i, (e, r, f) in enumerate(choices)]
    return log


def test_the_engine_must_split_less_than_the_rule_chain_when_a_better_plan_existed() -> None:
    # (engine, rule chain, fewest possible) parcels per order
    assert checks.splits(_outcome(_ships((2, 3, 2), (1, 1, 1)))).passed
    assert not checks.splits(_outcome(_ships((3, 3, 2)))).passed  # a better plan was missed
    assert not checks.splits(_outcome(_ships((3, 2, 2)))).passed  # worse than the rules


def test_when_no_basket_allowed_better_a_tie_passes_and_more_splits_fail() -> None:
    assert checks.splits(_outcome(_ships((2, 2, 2), (1, 1, 1)))).passed
    assert not checks.splits(_outcome(_ships((2, 1, 1)))).passed


def test_a_register_sale_the_engine_refused_is_a_failure() -> None:
    log = DayLog()
    log.register = [
        RegisterSale("pos-1", "ST-001", "SKU-1", 1, AT, False, "99", None, status="applied"),
        RegisterSale("pos-2", "ST-001", "SKU-1", 1, AT, False, "99", None, status="conflict"),
    ]
    found = checks.clean(_outcome(log))
    assert not found.passed and "pos-2: conflict" in found.detail
    log.register.pop()
    assert checks.clean(_outcome(log)).passed


def test_a_late_pickup_support_does_not_see_as_late_fails_the_promise_check() -> None:
    assert checks.promises(_outcome(DayLog(), late_flags={"o1": True})).passed
    assert not checks.promises(_outcome(DayLog(), late_flags={"o1": True, "o2": False})).passed


def test_on_time_needs_a_measured_figure_at_the_floor() -> None:
    def with_on_time(value: float | None) -> Any:
        out = _outcome(DayLog())
        out.api_kpis["kpis"] = [{"name": "pickup_on_time", "value": value}]
        return out

    assert checks.on_time(with_on_time(95.0)).passed
    assert not checks.on_time(with_on_time(94.9)).passed
    assert not checks.on_time(with_on_time(None)).passed
