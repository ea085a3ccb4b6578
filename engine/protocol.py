"""The engine seam: what the API, routing's glue, the CLI and the services built on the
ledger may use of an engine. Two implementations: engine.local.Engine (Redis alone) and
engine.durable.DurableEngine (each write acknowledged once PostgreSQL has its events)."""

from typing import Protocol

from atp.availability import Availability
from atp.redis_io import RedisIO
from atp.replica import Replica
from atp.stock import Stock
from reservations.coordinator import Reservations
from reservations.expiry import ExpirySweeper


class LedgerEngine(Protocol):
    @property
    def stock(self) -> Stock: ...

    @property
    def availability(self) -> Availability: ...

    @property
    def reservations(self) -> Reservations: ...

    @property
    def replica(self) -> Replica | None: ...

    @property
    def redis(self) -> RedisIO: ...

    @property
    def sweeper(self) -> ExpirySweeper: ...

    @property
    def ready(self) -> bool:
        """False while the ledger must not be read or written (being rebuilt): 503, not
        zeros."""
        ...

    def start(self) -> None:
        """Starts this process's expiry sweeper (and re-sourcer, given a directory)."""

    async def close(self) -> None: ...
