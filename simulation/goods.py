"""The physical side the engine is told about: units in each building, units set aside
for orders, and the shelf a walk-in customer can take from (units there, not set aside).
The simulation keeps it so that walk-ins only buy what is really on the floor; the engine
only ever hears of it through the API."""

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from simulation.log import Json


@dataclass
class Goods:
    physical: Counter[tuple[str, str]] = field(default_factory=Counter)
    held: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Positions with a write on its way to the engine: a count there would race it.
    busy: Counter[tuple[str, str]] = field(default_factory=Counter)

    @contextlib.contextmanager
    def moving(self, sku: str, location: str) -> Iterator[None]:
        self.busy[sku, location] += 1
        try:
            yield
        finally:
            self.busy[sku, location] -= 1

    def countable(self, sku: str, location: str) -> bool:
        """Nothing set aside and nothing on its way: the ledger and the floor agree unless
        units went missing."""
        return not self.held[sku, location] and not self.busy[sku, location]

    def on_floor(self, sku: str, location: str) -> int:
        return self.physical[sku, location] - self.held[sku, location]

    def hold(self, order: Json) -> None:
        """An order the engine placed: its planned units are set aside where planned."""
        for shipment in order["shipments"]:
            for line in shipment["lines"]:
                self.held[line["sku"], shipment["location"]] += line["qty"]

    def release(self, order: Json) -> None:
        for shipment in order["shipments"]:
            for line in shipment["lines"]:
                self.held[line["sku"], shipment["location"]] -= line["qty"]

    def leave(self, order: Json, location: str | None = None) -> None:
        """Set-aside units leave the building (picked up, or one shipment shipped)."""
        for shipment in order["shipments"]:
            if location is not None and shipment["location"] != location:
                continue
            for line in shipment["lines"]:
                key = line["sku"], shipment["location"]
                self.held[key] -= line["qty"]
                self.physical[key] -= line["qty"]
