"""What routing's live glue needs of the engine: availability, the replica when there is
one, reservations and the Redis connection. A narrow port (the engine satisfies it), so
routing sits below the engine that composes it and takes no engine type."""

from typing import Protocol

from atp.availability import Availability
from atp.redis_io import RedisIO
from atp.replica import Replica
from reservations.coordinator import Reservations


class LedgerPort(Protocol):
    @property
    def redis(self) -> RedisIO: ...

    @property
    def replica(self) -> Replica | None: ...

    @property
    def ready(self) -> bool: ...

    @property
    def availability(self) -> Availability: ...

    @property
    def reservations(self) -> Reservations: ...
