"""Positions packed in arrays: one int32 column per location, five cells per SKU index.

A dict of Position objects costs ~300 bytes a position; this costs 20 bytes (five int32, see
QTY_MAX) per cell of the SKU x location grid plus each name once, so dense retail grids stay
well under 64 bytes a position (bench/replica.py). Cells never written read as zero.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import TypeVar

from atp.model import Channel, Position, Supply

FIELDS = 5  # on_hand, reserved, safety, incoming, oversold (units registers sold beyond ATP)
_ZEROS = (0, 0, 0, 0, 0)
Cells = tuple[int, int, int, int, int]
T = TypeVar("T")
# sku, location, on hand, reserved, safety, incoming, ATP, oversold, short -> one cell's value
Make = Callable[[str, str, int, int, int, int, int, int, int], T]
_NO_COLUMN = array("i")


class PackedPositions:
    def __init__(self) -> None:
        self.sku_index: dict[str, int] = {}
        self.location_index: dict[str, int] = {}
        self.columns: list[array[int]] = []  # per location: FIELDS cells per sku index
        self.supplies: dict[tuple[str, str], dict[str, Supply]] = {}  # sparse

    def _sku(self, sku: str) -> int:
        index = self.sku_index.get(sku)
        if index is None:
            index = self.sku_index[sku] = len(self.sku_index)
        return index

    def _column(self, location: str) -> array[int]:
        index = self.location_index.get(location)
        if index is None:
            index = self.location_index[location] = len(self.columns)
            self.columns.append(array("i"))
        return self.columns[index]

    def _cell(self, sku: str, location: str) -> tuple[array[int], int]:
        at = self._sku(sku) * FIELDS
        column = self._column(location)
        if at >= len(column):
            # Grow to cover every known sku (and some room), so growth stays amortised.
            cells = max(at + FIELDS, len(self.sku_index) * FIELDS, len(column) * 2)
            column.extend(_ZEROS * ((cells - len(column)) // FIELDS))
        return column, at

    def set(self, sku: str, location: str, values: Cells) -> None:
        column, at = self._cell(sku, location)
        column[at], column[at + 1], column[at + 2], column[at + 3], column[at + 4] = values

    def set_position(self, sku: str, location: str, values: tuple[int, int, int, int]) -> None:
        """On hand, reserved, safety and incoming; the oversold count is kept."""
        column, at = self._cell(sku, location)
        column[at], column[at + 1], column[at + 2], column[at + 3] = values

    def get(self, sku: str, location: str) -> Cells:
        sku_at = self.sku_index.get(sku)
        location_at = self.location_index.get(location)
        if sku_at is None or location_at is None:
            return _ZEROS
        column = self.columns[location_at]
        at = sku_at * FIELDS
        if at >= len(column):
            return _ZEROS
        return (column[at], column[at + 1], column[at + 2], column[at + 3], column[at + 4])

    def position(self, sku: str, location: str) -> Position:
        return Position(sku, location, *self.get(sku, location)[:4])

    def grid(
        self, skus: Sequence[str], locations: Sequence[str], channel: Channel, make: Make[T]
    ) -> list[T]:
        """Every SKU x location (SKU-major), ``make(sku, location, on_hand, reserved, safety,
        incoming, atp, oversold, short)`` for each: a storefront page or a plan's candidates.

        The one place the ATP rule (Position.available) reads packed columns; inlined, as
        this loop runs per cell of every batch read and plan (bench.reads, bench.routing).
        """
        online = channel is Channel.online
        columns = []
        for location in locations:
            at = self.location_index.get(location)
            column = self.columns[at] if at is not None else _NO_COLUMN
            columns.append((location, column, len(column)))  # past the end reads as zero
        cells: list[T] = []
        append, sku_index = cells.append, self.sku_index
        for sku in skus:
            found = sku_index.get(sku)
            at = -1 if found is None else found * FIELDS
            for location, column, size in columns:
                if not 0 <= at < size:
                    append(make(sku, location, 0, 0, 0, 0, 0, 0, 0))
                    continue
                on_hand, reserved, safety = column[at], column[at + 1], column[at + 2]
                atp = on_hand - reserved - (safety if online else 0)
                short = reserved - on_hand
                append(
                    make(
                        sku,
                        location,
                        on_hand,
                        reserved,
                        safety,
                        column[at + 3],
                        atp if atp > 0 else 0,
                        column[at + 4],
                        short if short > 0 else 0,
                    )
                )
        return cells

    def available(
        self, skus: Sequence[str], locations: Sequence[str], channel: Channel
    ) -> dict[str, dict[str, int]]:
        """location -> sku -> ATP for the channel, cells with none left out: a plan's
        candidates. The rule is grid's, written once more without a call per cell, as a plan
        reads 250 cells or more (bench.routing); a property test holds both to Position."""
        online = channel is Channel.online
        found = [(sku, at * FIELDS) for sku in skus if (at := self.sku_index.get(sku)) is not None]
        into: dict[str, dict[str, int]] = {}
        for location in locations:
            units: dict[str, int] = {}
            into[location] = units
            column_at = self.location_index.get(location)
            if column_at is None:
                continue
            column = self.columns[column_at]
            size = len(column)
            for sku, at in found:
                if at < size:
                    atp = column[at] - column[at + 1] - (column[at + 2] if online else 0)
                    if atp > 0:
                        units[sku] = atp
        return into

    def set_supply(self, sku: str, location: str, supply: Supply) -> None:
        self.supplies.setdefault((sku, location), {})[supply.supply_id] = supply

    def drop_supply(self, sku: str, location: str, supply_id: str) -> None:
        at = self.supplies.get((sku, location))
        if at is not None:
            at.pop(supply_id, None)
            if not at:
                del self.supplies[(sku, location)]

    def supplies_at(self, sku: str, location: str) -> list[Supply]:
        return list(self.supplies.get((sku, location), {}).values())

    def array_bytes(self) -> int:
        return sum(column.buffer_info()[1] * column.itemsize for column in self.columns)
