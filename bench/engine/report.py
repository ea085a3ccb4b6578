"""The engine benchmark's figures, targets and tables (bench/engine/render.py lays them out).

Ratios, as the issue defines them: latency = op p50 / baseline p50 at 1 caller; throughput
= op ops/s / baseline ops/s at 16 callers. Both sides are measured in the same run.
"""

import re

import msgspec

from bench.common.machine import CpuUse, Machine
from bench.common.stats import Figure, Summary, Target, format_table, target
from bench.engine.hot import HotSku

LATENCY_CALLERS = 1
THROUGHPUT_CALLERS = 16
# The targets.
POSITION_VS_HGET_MAX = 1.5
RESERVE_VS_EVALSHA_MAX = 2.0
LATENCY_US_P99_MAX = 1_000.0
TARGET_OPS = (("position", POSITION_VS_HGET_MAX), ("reserve 3 lines", RESERVE_VS_EVALSHA_MAX))


class Measured(msgspec.Struct, frozen=True):
    name: str
    callers: int
    baseline: str | None
    positions_per_call: int
    summary: Summary


class Report(msgspec.Struct, frozen=True):
    benchmark: str
    date: str
    command: str
    mode: str
    duration_s: float
    machine: Machine
    redis_pid: int
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float]
    cpu_use: CpuUse
    notes: list[str]
    figures: list[Figure]
    targets: list[Target]
    hot_sku: HotSku


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _index(measured: list[Measured]) -> dict[tuple[str, int], Measured]:
    return {(m.name, m.callers): m for m in measured}


def figures(measured: list[Measured], hot: HotSku) -> list[Figure]:
    by_key = _index(measured)
    out = []
    for m in measured:
        prefix, s = f"{slug(m.name)}.c{m.callers}", m.summary
        base = by_key[(m.baseline, m.callers)].summary if m.baseline else None
        base_prefix = f"{slug(m.baseline)}.c{m.callers}" if m.baseline else ""
        ops_ratio = p50_ratio = None
        if base and m.callers == THROUGHPUT_CALLERS:
            ops_ratio = round(s.ops_per_s / base.ops_per_s, 3)
        if base and m.callers == LATENCY_CALLERS:
            p50_ratio = round(s.latency_us_p50 / base.latency_us_p50, 3)
        out += [
            Figure(
                f"{prefix}.ops_per_s",
                round(s.ops_per_s),
                "ops/s",
                ops_ratio,
                f"{base_prefix}.ops_per_s" if ops_ratio else None,
            ),
            Figure(
                f"{prefix}.latency_us_p50",
                s.latency_us_p50,
                "us",
                p50_ratio,
                f"{base_prefix}.latency_us_p50" if p50_ratio else None,
            ),
            Figure(f"{prefix}.latency_us_p99", s.latency_us_p99, "us"),
            Figure(f"{prefix}.latency_us_max", s.latency_us_max, "us"),
            Figure(f"{prefix}.cpu_us_per_call", round(s.cpu_us_per_call, 2), "us"),
            Figure(f"{prefix}.redis_cpu_us_per_call", round(s.server_cpu_us_per_call, 2), "us"),
            Figure(f"{prefix}.calls", s.calls, "calls"),
        ]
        if m.positions_per_call > 1:
            per_s = round(s.ops_per_s * m.positions_per_call)
            out.append(Figure(f"{prefix}.positions_per_s", per_s, "positions/s"))
    h = hot.overall
    out += [
        Figure("hot_sku.ops_per_s", round(h.ops_per_s), "ops/s"),
        Figure("hot_sku.latency_us_p50", h.latency_us_p50, "us"),
        Figure("hot_sku.latency_us_p99", h.latency_us_p99, "us"),
        Figure("hot_sku.cpu_us_per_call", h.cpu_us_per_call, "us"),
        Figure("hot_sku.reserved_latency_us_p50", hot.reserved_latency_us_p50, "us"),
        Figure("hot_sku.reserved_latency_us_p99", hot.reserved_latency_us_p99, "us"),
        Figure("hot_sku.refused_latency_us_p50", hot.refused_latency_us_p50, "us"),
        Figure("hot_sku.refused_latency_us_p99", hot.refused_latency_us_p99, "us"),
        Figure("hot_sku.attempts", hot.attempts, "calls"),
        Figure("hot_sku.reserved", hot.reserved, "reservations"),
        Figure("hot_sku.refused", hot.refused, "reservations"),
        Figure("hot_sku.units", hot.units_total, "units"),
    ]
    return out


def targets(measured: list[Measured], hot: HotSku) -> list[Target]:
    by_key = _index(measured)
    out = []
    for name, ratio_max in TARGET_OPS:
        one, many = by_key[(name, LATENCY_CALLERS)], by_key[(name, THROUGHPUT_CALLERS)]
        assert one.baseline
        base_one = by_key[(one.baseline, LATENCY_CALLERS)].summary
        base_many = by_key[(one.baseline, THROUGHPUT_CALLERS)].summary
        p50_ratio = one.summary.latency_us_p50 / base_one.latency_us_p50
        ops_ratio = many.summary.ops_per_s / base_many.ops_per_s
        out += [
            target(
                f"{name}: p50 at 1 caller / {one.baseline} p50",
                round(p50_ratio, 2),
                ratio_max,
                "x",
                "at_most",
            ),
            target(
                f"{name}: ops/s at 16 callers / {one.baseline} ops/s",
                round(ops_ratio, 2),
                round(1 / ratio_max, 2),
                "x",
                "at_least",
            ),
            target(
                f"{name}: p99 at 16 callers",
                round(many.summary.latency_us_p99, 1),
                LATENCY_US_P99_MAX,
                "us",
                "at_most",
            ),
        ]
    out.append(target("hot SKU: successes == units", hot.reserved, hot.units_total, "", "equal"))
    return out


def _us(value: float) -> str:
    return f"{value:,.1f}"


def operations_table(measured: list[Measured], markdown: bool) -> str:
    by_key = _index(measured)
    rows = []
    for m in measured:
        ratio = ""
        if m.baseline and m.callers == LATENCY_CALLERS:
            base = by_key[(m.baseline, m.callers)].summary
            ratio = f"p50 {m.summary.latency_us_p50 / base.latency_us_p50:.2f}x {m.baseline}"
        elif m.baseline and m.callers == THROUGHPUT_CALLERS:
            base = by_key[(m.baseline, m.callers)].summary
            ratio = f"ops/s {m.summary.ops_per_s / base.ops_per_s:.2f}x {m.baseline}"
        s = m.summary
        rows.append(
            [
                m.name,
                str(m.callers),
                f"{s.ops_per_s:,.0f}",
                _us(s.latency_us_p50),
                _us(s.latency_us_p99),
                _us(s.cpu_us_per_call),
                _us(s.server_cpu_us_per_call),
                ratio,
            ]
        )
    headers = [
        "operation",
        "callers",
        "ops/s",
        "p50 us",
        "p99 us",
        "cpu us/call",
        "redis cpu us/call",
        "vs baseline",
    ]
    return format_table(headers, rows, markdown)


def targets_table(items: list[Target], markdown: bool) -> str:
    signs = {"at_most": "<=", "at_least": ">=", "equal": "=="}
    rows = [
        [
            t.name,
            f"{t.measured:,g}{t.unit}",
            f"{signs[t.bound]} {t.limit:,g}{t.unit}",
            "met" if t.met else "NOT MET",
        ]
        for t in items
    ]
    return format_table(["target", "measured", "limit", "result"], rows, markdown)


def hot_table(hot: HotSku, markdown: bool) -> str:
    check = "OK" if hot.reserved == hot.units_total and not hot.failures else "FAILED"
    rows = [
        [
            "rounds x reservers x attempts each",
            f"{hot.rounds} x {hot.reservers} x {hot.attempts_per_reserver}",
        ],
        ["attempts", f"{hot.attempts:,}"],
        ["reserved (successes)", f"{hot.reserved:,}"],
        ["refused (insufficient)", f"{hot.refused:,}"],
        ["other results", f"{hot.other:,}"],
        ["units on hand (rounds x units)", f"{hot.units_total:,}"],
        ["successes == units, and == position.reserved each round", check],
        ["ops/s (attempts)", f"{hot.overall.ops_per_s:,.0f}"],
        [
            "p50 / p99 us, all attempts",
            f"{_us(hot.overall.latency_us_p50)} / {_us(hot.overall.latency_us_p99)}",
        ],
        [
            "p50 / p99 us, reserved",
            f"{_us(hot.reserved_latency_us_p50)} / {_us(hot.reserved_latency_us_p99)}",
        ],
        [
            "p50 / p99 us, refused",
            f"{_us(hot.refused_latency_us_p50)} / {_us(hot.refused_latency_us_p99)}",
        ],
        ["cpu us per attempt", _us(hot.overall.cpu_us_per_call)],
    ]
    return format_table(["hot SKU (one sku and location)", "value"], rows, markdown)
