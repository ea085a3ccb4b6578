"""The KPIs as Prometheus gauges (issue 15), refreshed periodically from PostgreSQL over the
last PERIOD_DEFAULT (orders/kpis.py's default period), chain-wide and on every channel:

- ``atp_kpi{kpi}``: each KPI's value (orders/kpi_formulas.py), NaN while there is nothing
  to measure (no denominator, no samples);
- ``atp_kpi_store{location, figure}`` and ``atp_kpi_channel{channel, figure}``: orders,
  revenue, returns_rate, oversells and split_shipment_rate.

A store or channel seen in an earlier round and absent now reads 0 orders, revenue and
oversells and NaN rates (nothing happened there in the period), not its stale figures.

"Now" is the engine's clock (atp/clock.py), as for every KPI a request asks for.
"""

import math
from typing import Final

import asyncpg
from prometheus_client import Gauge

from atp.clock import Clock, instant
from orders import kpis
from orders.kpi_formulas import Breakdown

KPI_REFRESH_S: Final = 60.0  # the figures move slowly; each round runs a few aggregates
FIGURES: Final = ("orders", "revenue", "returns_rate", "oversells", "split_shipment_rate")
# The database's figures are the same from any process: the latest written is the one.
_MODE: Final = "mostrecent"

KPI = Gauge("atp_kpi", "Each KPI over the last 7 days (NaN: nothing to measure)", ["kpi"],
            multiprocess_mode=_MODE)  # fmt: skip
STORE = Gauge(
    "atp_kpi_store",
    "Per store figures over the last 7 days",
    ["location", "figure"],
    multiprocess_mode=_MODE,
)
CHANNEL = Gauge(
    "atp_kpi_channel",
    "Per channel figures over the last 7 days",
    ["channel", "figure"],
    multiprocess_mode=_MODE,
)


def _number(value: float | str | None) -> float:
    return math.nan if value is None else float(value)


def _values(row: Breakdown | None) -> dict[str, float]:
    if row is None:  # nothing there in the period
        return {"orders": 0, "revenue": 0, "returns_rate": math.nan, "oversells": 0,
                "split_shipment_rate": math.nan}  # fmt: skip
    return {name: _number(getattr(row, name)) for name in FIGURES}


class KpiGauges:
    def __init__(self, pool: asyncpg.Pool, clock: Clock | None = None) -> None:
        self.pool, self.clock = pool, clock
        self.stores: set[str] = set()
        self.channels: set[str] = set()

    async def refresh(self) -> kpis.Kpis:
        """One round: the figures now, written to the gauges (and returned)."""
        until = instant(self.clock)
        since = until - kpis.PERIOD_DEFAULT
        async with self.pool.acquire() as conn:
            found = await kpis.gather(conn, since=since, until=until, now=until)
        for figure in found.kpis:
            KPI.labels(figure.name).set(_number(figure.value))
        stores = {row.location: row for row in found.by_store if row.location is not None}
        channels = {row.channel: row for row in found.by_channel if row.channel is not None}
        self.stores |= stores.keys()
        self.channels |= channels.keys()
        for location in self.stores:
            for name, value in _values(stores.get(location)).items():
                STORE.labels(location, name).set(value)
        for channel in self.channels:
            for name, value in _values(channels.get(channel)).items():
                CHANNEL.labels(channel, name).set(value)
        return found
