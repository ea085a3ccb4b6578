"""What the day must show (issue 15): no oversell, every pickup promise kept or flagged,
pickup on time at least 95 % with the default staffing, fewer split shipments than the
rule chain, the KPIs from the log equal to the engine's, and no server error on the way."""

import math
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from orders import kpi_formulas as f
from simulation import log_kpis
from simulation.day import Outcome
from simulation.log import ACCEPTED, Splits

ON_TIME_FLOOR: Final = 95.0
TOLERANCE: Final = 1e-9  # floats from the same formula on the same inputs


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def _figure_map(figures: list[Any]) -> dict[str, Any]:
    return {x["name"]: x.get("value") for x in figures}


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(float(a), float(b), rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return bool(a == b)


def kpis_agree(out: Outcome) -> Check:
    log = out.sim.log
    mine = msgspec.to_builtins(log_kpis.kpis(log, out.since, out.until, out.asked_at))
    theirs = out.api_kpis["kpis"]
    diffs = []
    for name, value in _figure_map(mine).items():
        if not _same(value, _figure_map(theirs).get(name)):
            diffs.append(f"{name}: log {value} vs API {_figure_map(theirs).get(name)}")
    for key, field in (("location", "by_store"), ("channel", "by_channel")):
        rows = msgspec.to_builtins(log_kpis.breakdowns(log, out.since, out.until, key))
        if rows != out.api_kpis[field]:
            diffs.append(f"{field}: log {rows} vs API {out.api_kpis[field]}")
    return Check("KPIs from the log equal the API's", not diffs, "; ".join(diffs) or "all equal")


def _value(out: Outcome, name: str) -> Any:
    return _figure_map(out.api_kpis["kpis"]).get(name)


def oversells(out: Outcome) -> Check:
    count = sum(row["oversells"] for row in out.api_kpis["by_store"])
    return Check("0 oversells", count == 0, f"{count} register sales oversold")


def promises(out: Outcome) -> Check:
    missed = [oid for oid, flagged in out.late_flags.items() if not flagged]
    detail = (f"{len(out.late_flags)} late, all flagged to support" if not missed
              else f"late and not flagged: {missed[:10]}")  # fmt: skip
    return Check("every pickup promise kept or flagged", not missed, detail)


def on_time(out: Outcome) -> Check:
    value = _value(out, f.PICKUP_ON_TIME.name)
    passed = value is not None and value >= ON_TIME_FLOOR
    shown = "nothing measured" if value is None else f"{value:.1f} %"
    return Check(f"pickup on time >= {ON_TIME_FLOOR:g} %", passed, shown)


def splits(out: Outcome) -> Check:
    """Fewer split shipments than the rule chain, on the same baskets and availability.
    When no basket let a plan beat the rule chain (a small day), the engine must match it."""
    s = Splits.of(out.sim.log.ships)
    beatable = s.fewest < s.rule_chain
    passed = s.engine < s.rule_chain if beatable else s.engine <= s.rule_chain
    return Check(
        "fewer split shipments than the rule chain",
        passed,
        f"split shipments over {s.orders} ship orders: engine {s.engine}, rule chain "
        f"{s.rule_chain}, fewest possible {s.fewest} (orders split: {s.engine_orders} vs "
        f"{s.rule_chain_orders})" + ("" if beatable else "; no basket let a plan do better"),
    )


def clean(out: Outcome) -> Check:
    log, sim = out.sim.log, out.sim
    problems = [f"{k}: {v}" for k, v in log.errors.items()] + sim.failures
    problems += [f"register sale {s.event_id}: {s.status}" for s in log.register
                 if s.status not in ACCEPTED]  # fmt: skip
    return Check(
        "no server error, no failed errand", not problems, "; ".join(problems[:8]) or "none"
    )


def all_checks(out: Outcome) -> list[Check]:
    return [oversells(out), promises(out), on_time(out), splits(out), kpis_agree(out), clean(out)]
