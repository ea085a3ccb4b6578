"""Where ``now`` comes from. Scripts stamp Redis server time unless a clock supplies one, so
every engine process agrees on expiry; tests supply a controlled clock, and a simulated
retail day (simulation/) an accelerated one that every process of the run shares.

Every business timestamp (an order's steps, a return's receipt and refund, a ticket, an
alert's send, a KPI period's "now") is ``instant(clock)``: one clock for the whole engine.
Leases that only guard against a dead process (``pending_since``) stay on PostgreSQL's
time: they measure real seconds, whatever day is being simulated.
"""

import datetime as dt
import time
from typing import Final, Protocol

SIMULATED_RATE_MAX: Final = 10_000  # faster, and a hold's seconds are shorter than a request


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch, or 0 to let the Redis server stamp its own time."""
        ...


class ServerClock:
    def now_ms(self) -> int:
        return 0


class ManualClock:
    def __init__(self, start_ms: int = 1_800_000_000_000) -> None:
        self.value_ms = start_ms

    def now_ms(self) -> int:
        return self.value_ms

    def advance(self, ms: int) -> None:
        self.value_ms += ms


class SimulatedClock:
    """``origin`` at the real instant ``started_ms``, running ``rate`` times faster: every
    process built from the same three numbers reads the same simulated instant."""

    def __init__(self, origin_ms: int, started_ms: int, rate: float) -> None:
        if not 0 < rate <= SIMULATED_RATE_MAX:
            raise ValueError(f"a simulated clock's rate must be within (0, {SIMULATED_RATE_MAX}]")
        self.origin_ms, self.started_ms, self.rate = origin_ms, started_ms, rate

    def now_ms(self) -> int:
        return self.origin_ms + int((time.time() * 1000 - self.started_ms) * self.rate)

    def real_ms(self, simulated_ms: int) -> float:
        """The real epoch ms at which this clock reads ``simulated_ms``."""
        return self.started_ms + (simulated_ms - self.origin_ms) / self.rate

    def spec(self) -> str:
        """What ``simulated(spec)`` reads back (ATP_SIMULATED_CLOCK)."""
        return f"{self.origin_ms},{self.started_ms},{self.rate:g}"


def simulated(spec: str) -> SimulatedClock:
    """``origin_ms,started_ms,rate`` (SimulatedClock.spec) as a clock; ValueError names
    what is wrong."""
    parts = spec.split(",")
    if len(parts) != 3:
        raise ValueError("ATP_SIMULATED_CLOCK is origin_ms,started_ms,rate")
    return SimulatedClock(int(parts[0]), int(parts[1]), float(parts[2]))


def instant_ms(clock: Clock | None) -> int:
    """The clock's now in epoch ms; a clock that lets Redis stamp (0) reads this host's."""
    return (clock.now_ms() if clock is not None else 0) or int(time.time() * 1000)


def instant(clock: Clock | None) -> dt.datetime:
    ms = clock.now_ms() if clock is not None else 0
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms else dt.datetime.now(dt.UTC)
