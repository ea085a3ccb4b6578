"""Small time-series charts drawn on the server as inline SVG: no chart library, no script.
Pure: values in, SVG coordinates out."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WIDTH: Final = 160
HEIGHT: Final = 40
PAD: Final = 3


@dataclass(frozen=True)
class Spark:
    points: str  # the polyline's "x,y x,y ..."; "" when no value is known
    dots: list[tuple[float, float]]  # each known value, so a single day still shows
    low: float | None
    high: float | None


def spark(values: Sequence[float | None]) -> Spark:
    """A line through the known values, days evenly spaced; gaps (None) are skipped."""
    known = [v for v in values if v is not None]
    if not known:
        return Spark("", [], None, None)
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(values) - 1)
    dots = [
        (round(PAD + i * step, 1), round(HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD), 1))
        for i, v in enumerate(values)
        if v is not None
    ]
    return Spark(" ".join(f"{x},{y}" for x, y in dots), dots, low, high)
