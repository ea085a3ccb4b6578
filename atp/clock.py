"""Where ``now`` comes from. Scripts stamp Redis server time unless a clock supplies one, so
every engine process agrees on expiry; tests supply a controlled clock."""

from typing import Protocol


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
