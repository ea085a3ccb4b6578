"""What the day saw: every answer the engine gave the simulated people, kept as the
engine said it (the latest answer for each order, return and ticket), with what the
simulation itself decided beside it. The KPIs are recomputed from this alone
(simulation/log_kpis.py) and compared with GET /v1/kpis."""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

Json = dict[str, Any]
ACCEPTED = ("applied", "duplicate")  # a register event's answers that mean it took effect


@dataclass
class RegisterSale:
    event_id: str
    store: str
    sku: str
    qty: int
    at: dt.datetime
    offline: bool
    unit_price: str
    shopper: int | None  # the walk-in's shopper number when they gave their email
    oversold: int = 0  # from the replay's answer
    status: str = ""


@dataclass
class ShipChoice:
    """A ship order's boxes: the engine's plan against the rule chain's, and the fewest any
    plan could use, on the availability the storefront read just before ordering."""

    order_id: str
    engine: int
    rule_chain: int | None
    fewest: int | None


@dataclass(frozen=True)
class Splits:
    """Split shipments (the parcels beyond one per order) over the ship orders both routers
    could plan: the engine's, the rule chain's, the fewest possible; and orders split."""

    engine: int
    rule_chain: int
    fewest: int
    orders: int
    engine_orders: int
    rule_chain_orders: int

    @classmethod
    def of(cls, ships: list[ShipChoice]) -> "Splits":
        both = [(s.engine, s.rule_chain, s.fewest or 1) for s in ships if s.rule_chain]
        return cls(
            sum(e - 1 for e, _, _ in both), sum(r - 1 for _, r, _ in both),
            sum(f - 1 for _, _, f in both), len(both),
            sum(1 for e, _, _ in both if e > 1), sum(1 for _, r, _ in both if r > 1),
        )  # fmt: skip


@dataclass
class DayLog:
    orders: dict[str, Json] = field(default_factory=dict)
    abandoned: set[str] = field(default_factory=set)  # placed, never paid (they expire)
    refused_orders: int = 0  # 409 insufficient-stock: the shopper signs up or leaves
    returns: dict[str, Json] = field(default_factory=dict)
    tickets: dict[str, Json] = field(default_factory=dict)
    sends: dict[str, Json] = field(default_factory=dict)  # alert.triggered deliveries
    conversions: dict[str, str] = field(default_factory=dict)  # order id -> send id
    register: list[RegisterSale] = field(default_factory=list)
    ships: list[ShipChoice] = field(default_factory=list)
    signups: int = 0
    reads: int = 0
    counts: int = 0  # cycle counts
    count_drift: int = 0  # units a count found off the ledger
    supplies: int = 0
    receipts: int = 0
    surfaces: dict[str, int] = field(default_factory=dict)  # surface -> version shown
    policy_versions: dict[str, int] = field(default_factory=dict)  # policy -> current
    surface_policy: dict[str, str] = field(default_factory=dict)
    price_mismatches: int = 0  # sales the simulation made at a price not in force
    errors: dict[str, int] = field(default_factory=dict)  # "POST /v1/x 500" -> count
    calls: int = 0

    def order(self, answer: Json) -> None:
        self.orders[answer["id"]] = answer

    def sold(self) -> list[RegisterSale]:
        """The register sales the engine took (a refused one is no sale: the check reports
        it)."""
        return [s for s in self.register if s.status in ACCEPTED]

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def write(self, path: Path) -> None:
        """The log as JSON lines: one record per order, return, ticket, send, sale."""
        with path.open("wb") as out:
            for kind, items in (
                ("order", self.orders.values()),
                ("return", self.returns.values()),
                ("ticket", self.tickets.values()),
                ("send", self.sends.values()),
            ):
                for item in items:
                    out.write(msgspec.json.encode({"kind": kind, **item}) + b"\n")
            for sale in self.register:
                out.write(msgspec.json.encode({"kind": "register_sale", **sale.__dict__}) + b"\n")
            for ship in self.ships:
                out.write(msgspec.json.encode({"kind": "ship_choice", **ship.__dict__}) + b"\n")
