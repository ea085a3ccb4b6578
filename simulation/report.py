"""The day's report: markdown for people, JSON for tools, the charts, and the log."""

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec

from simulation import charts
from simulation.checks import Check
from simulation.day import Outcome


def _kpi_rows(out: Outcome) -> list[str]:
    rows = ["| KPI | value | target | formula |", "|---|---|---|---|"]
    for k in out.api_kpis["kpis"]:
        value = "n/a" if k.get("value") is None else f"{k['value']:.2f} {k['unit']}"
        rows.append(f"| {k['name']} | {value} | {k['target']} | {k['formula']} |")
    return rows


def _breakdown_rows(out: Outcome, field: str, key: str) -> list[str]:
    rows = [f"| {key} | orders | revenue | returns rate % | oversells | split-shipment rate % |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for b in out.api_kpis[field]:
        rate = "n/a" if b.get("returns_rate") is None else f"{b['returns_rate']:.1f}"
        split = "n/a" if b.get("split_shipment_rate") is None else f"{b['split_shipment_rate']:.1f}"
        rows.append(f"| {b[key]} | {b['orders']} | {b['revenue']} | {rate} | {b['oversells']} "
                    f"| {split} |")  # fmt: skip
    return rows


def figures(out: Outcome) -> dict[str, Any]:
    log, config = out.sim.log, out.sim.config
    return {
        "preset": config.name,
        "day": config.the_day().isoformat(),
        "rate": config.rate,
        "seed": config.seed,
        "stores": len(out.chain.stores),
        "warehouses": len(out.chain.warehouses),
        "skus": len(out.chain.skus),
        "shopper_sessions": config.shoppers,
        "associates_per_store": config.associates_per_store,
        "real_seconds": round(out.real_seconds, 1),
        "calls": log.calls,
        "orders": len(log.orders),
        "orders_refused_short": log.refused_orders,
        "orders_abandoned": len(log.abandoned),
        "register_sales": len(log.register),
        "register_sales_offline": sum(1 for s in log.register if s.offline),
        "returns": len(log.returns),
        "tickets": len(log.tickets),
        "alert_signups": log.signups,
        "alert_sends": len(log.sends),
        "alert_orders": len(log.conversions),
        "cycle_counts": log.counts,
        "count_drift_units": log.count_drift,
        "supplies": log.supplies,
        "receipts": log.receipts,
    }


def markdown(out: Outcome, checks: list[Check], pictures: list[Path]) -> str:
    fig = figures(out)
    lines = [
        f"Preset `{fig['preset']}`, seed {fig['seed']}: the day {fig['day']} at {fig['rate']:g}x "
        f"({fig['real_seconds']:g} s real), {fig['stores']} stores, {fig['warehouses']} "
        f"warehouses, {fig['skus']} SKUs, {fig['shopper_sessions']} storefront sessions, "
        f"{fig['associates_per_store']} associates per store.",
        "",
        f"Orders {fig['orders']} (never paid {fig['orders_abandoned']}, refused for want of "
        f"stock {fig['orders_refused_short']}); register sales {fig['register_sales']} "
        f"(replayed after an outage {fig['register_sales_offline']}); returns "
        f"{fig['returns']}; support tickets {fig['tickets']}; alert sign-ups "
        f"{fig['alert_signups']}, sent {fig['alert_sends']}, orders from them "
        f"{fig['alert_orders']}; cycle counts {fig['cycle_counts']} (units of drift found "
        f"{fig['count_drift_units']}); supplies {fig['supplies']}, received {fig['receipts']}; "
        f"API calls {fig['calls']}.",
        "",
        "| check | result | detail |",
        "|---|---|---|",
        *[f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.detail} |" for c in checks],
        "",
        *_kpi_rows(out),
        "",
        *_breakdown_rows(out, "by_store", "location"),
        "",
        *_breakdown_rows(out, "by_channel", "channel"),
    ]
    if pictures:
        lines += ["", *[f"![{p.stem}]({p.name})" for p in pictures]]
    return "\n".join(lines) + "\n"


def write(out: Outcome, checks: list[Check], folder: Path) -> Path:
    """report.md, report.json, the charts and day-log.jsonl in ``folder``; the markdown's path."""
    folder.mkdir(parents=True, exist_ok=True)
    pictures = charts.write(out, folder) if charts.available() else []
    text = markdown(out, checks, pictures)
    if not pictures:
        text += "\n(no charts: matplotlib is not installed; `pip install atp-engine[simulate]`)\n"
    (folder / "report.md").write_text(f"# Retail day, {out.sim.config.the_day()}\n\n{text}")
    document = {
        "figures": figures(out),
        "checks": [c.__dict__ for c in checks],
        "kpis": out.api_kpis,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    (folder / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(document)))
    out.sim.log.write(folder / "day-log.jsonl")
    return folder / "report.md"
