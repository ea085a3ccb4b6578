"""The local engine (engine/protocol.py): stock writes, availability reads and reservations
over one Redis connection, plus the expiry sweeper every engine process runs, and the
re-sourcer when it is given a location directory (routing/resourcing.py). Its writes are
acknowledged from Redis alone; engine/durable.py's wait for PostgreSQL."""

from collections.abc import Callable

from atp.availability import Availability
from atp.clock import Clock
from atp.redis_connect import connect
from atp.redis_io import RedisIO
from atp.replica import Replica
from atp.stock import Stock
from reservations.coordinator import Reservations
from reservations.expiry import ExpirySweeper
from routing.location_directory import LocationDirectory
from routing.resourcing import Resourcer


def _always() -> bool:
    return True


class Engine:
    def __init__(
        self,
        redis: RedisIO,
        clock: Clock | None = None,
        replica: Replica | None = None,
        *,
        directory: LocationDirectory | None = None,
    ) -> None:
        self.redis = redis
        self.replica = replica
        self.stock = Stock(redis, clock)
        self.availability = Availability(redis)
        self.reservations = Reservations(redis, clock)
        self.sweeper = ExpirySweeper(self.reservations)
        # Re-sourcing needs to know where units may go; without a directory it does not run.
        self.resourcer = Resourcer(redis, directory, clock) if directory is not None else None
        # Whether the ledger may be served; a process that journals beside this engine
        # (api/app.py) points it at its durability's health.
        self.readiness: Callable[[], bool] = _always

    @classmethod
    def connect(
        cls,
        url: str,
        clock: Clock | None = None,
        *,
        replica: bool = False,
        replica_partitions: frozenset[int] | None = None,
        directory: LocationDirectory | None = None,
    ) -> "Engine":
        """``replica_partitions``: the partitions the replica holds (None: all)."""
        redis = connect(url)
        tail = Replica(redis, connect(url), replica_partitions) if replica else None
        return cls(redis, clock, tail, directory=directory)

    @property
    def ready(self) -> bool:
        """False while the ledger is missing or being rebuilt (atp.replica_reads's read
        policy answers 503 then); alone, a local engine serves whatever Redis holds."""
        return self.readiness()

    def start(self) -> None:
        self.sweeper.start()
        if self.resourcer is not None:
            self.resourcer.start()

    async def start_replica(self) -> None:
        """Loads the in-memory replica and starts following the streams (single Redis)."""
        assert self.replica is not None, "connect with replica=True"
        await self.replica.start()

    async def close(self) -> None:
        await self.sweeper.stop()
        if self.resourcer is not None:
            await self.resourcer.stop()
        if self.replica is not None:
            await self.replica.stop()
            await self.replica.tail.close()
        await self.redis.close()
