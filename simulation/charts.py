"""The report's small charts (PNG, matplotlib's Agg backend: no screen needed): the day's
orders and register sales per hour, how early or late each pickup was ready against its
promise, and split shipments against the rule chain."""

import datetime as dt
from collections import Counter
from pathlib import Path

from simulation.day import Outcome
from simulation.log import Splits
from simulation.log_kpis import BOPIS

SIZE = (6.0, 3.0)  # inches: small, beside the text
DPI = 100


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _hour(raw: str) -> int:
    return dt.datetime.fromisoformat(raw).hour


def write(out: Outcome, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = out.sim.log
    written = []
    orders = Counter(_hour(o["order_received_at"]) for o in log.orders.values())
    sales = Counter(s.at.hour for s in log.register)
    hours = list(range(min(orders | sales or {8: 0}), max(orders | sales or {20: 0}) + 1))
    fig, ax = plt.subplots(figsize=SIZE)
    ax.bar([h - 0.2 for h in hours], [orders[h] for h in hours], width=0.4, label="online orders")
    ax.bar([h + 0.2 for h in hours], [sales[h] for h in hours], width=0.4, label="register sales")
    ax.set(xlabel="hour (UTC)", ylabel="count", title="The day's sales")
    ax.legend()
    written.append(_save(fig, folder / "sales-per-hour.png"))

    slack = [
        (dt.datetime.fromisoformat(o["promised_at"]) - dt.datetime.fromisoformat(o["ready_at"]))
        / dt.timedelta(minutes=1)
        for o in log.orders.values()
        if o["method"] in BOPIS and o.get("ready_at") and o.get("promised_at")
    ]
    fig, ax = plt.subplots(figsize=SIZE)
    ax.hist(slack or [0], bins=30)
    ax.axvline(0, color="black", linestyle="--", label="the promise")
    ax.set(xlabel="minutes ready before the promise (negative: late)", ylabel="orders",
           title="Pickup: ready against the promise")  # fmt: skip
    ax.legend()
    written.append(_save(fig, folder / "pickup-slack.png"))

    splits = Splits.of(log.ships)
    fig, ax = plt.subplots(figsize=SIZE)
    ax.bar(["engine router", "rule chain", "fewest possible"],
           [splits.engine, splits.rule_chain, splits.fewest],
           color=["tab:blue", "tab:gray", "tab:green"])  # fmt: skip
    ax.set(ylabel="parcels beyond one per order",
           title=f"Split shipments over {splits.orders} ship orders")  # fmt: skip
    written.append(_save(fig, folder / "split-shipments.png"))
    return written


def _save(fig: object, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(path, dpi=DPI)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return path
