"""What a simulated day is made of: the chain's size, its shoppers, the staffing and the
rates of everything that happens. Two presets: ``small`` (CI, about a minute) and ``full``
(bench/RESULTS.md)."""

import datetime as dt
from typing import Final

import msgspec

OPENS_AT: Final = dt.time(8, 0)  # every store, UTC: one zone keeps the report readable
CLOSES_AT: Final = dt.time(20, 0)
DAY_STARTS_AT: Final = dt.time(7, 30)  # the clock starts before opening: seeding settles
DRAIN_MINUTES: Final = 30  # after closing: staged orders get ready, deliveries settle
RATE_MAX: Final = 2_000  # faster, and a hold's simulated minute is shorter than a request


class DayConfig(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    stores: int
    warehouses: int
    skus: int
    shoppers: int  # storefront sessions over the day
    customers: int  # the people behind them (some shop twice)
    walk_ins_per_store: int  # register sales over the day
    rate: float  # simulated seconds per real second
    seed: int = 15
    day: dt.date | None = None  # default: today (UTC)
    associates_per_store: int = 2  # the default staffing
    stage_minutes_median: float = 4.0  # an associate picking and staging one order
    order_share: float = 0.30  # sessions that place an order
    pickup_share: float = 0.45  # of those, picked up in store (the rest shipped)
    abandon_share: float = 0.03  # placed, never paid: the hold expires
    return_share: float = 0.12  # delivered orders returned, at another store
    ticket_share: float = 0.10  # orders whose customer contacts support
    no_show_share: float = 0.03  # ready pickups never collected today
    offline_registers: int = 2  # registers that go offline for a while and replay
    offline_minutes: int = 20
    cycle_counts_per_store: int = 10
    alert_conversion_share: float = 0.3  # told it is back: orders it
    shelf_per_position: tuple[int, int] = (2, 14)  # on hand at a store, uniform
    warehouse_per_position: tuple[int, int] = (10, 60)
    safety_at_stores: int = 1

    def validate(self) -> "DayConfig":
        if not 0 < self.rate <= RATE_MAX:
            raise ValueError(f"rate must be within (0, {RATE_MAX}]")
        if self.stores < 2 or self.warehouses < 1 or self.skus < 5:
            raise ValueError("a chain needs 2 stores, 1 warehouse and 5 SKUs at least")
        if self.associates_per_store < 1:
            raise ValueError("associates_per_store must be at least 1")
        return self

    def the_day(self) -> dt.date:
        return self.day or dt.datetime.now(dt.UTC).date()

    def at(self, moment: dt.time) -> dt.datetime:
        return dt.datetime.combine(self.the_day(), moment, dt.UTC)

    @property
    def real_seconds(self) -> float:
        """How long the day takes, opening to the end of the drain."""
        span = self.at(CLOSES_AT) - self.at(DAY_STARTS_AT)
        return (span.total_seconds() + DRAIN_MINUTES * 60) / self.rate


SMALL: Final = DayConfig(
    name="small",
    stores=4,
    warehouses=2,
    skus=30,
    shoppers=160,
    customers=110,
    walk_ins_per_store=25,
    rate=1200.0,
)
FULL: Final = DayConfig(
    name="full",
    stores=12,
    warehouses=2,
    skus=200,
    shoppers=1_500,
    customers=1_000,
    walk_ins_per_store=80,
    rate=240.0,
)
PRESETS: Final = {c.name: c for c in (SMALL, FULL)}
