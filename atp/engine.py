"""The engine: stock writes, availability reads and reservations over one Redis connection,
plus the expiry sweeper every engine process runs."""

from atp.availability import Availability
from atp.clock import Clock
from atp.redis_io import RedisIO, connect
from atp.replica import Replica
from atp.stock import Stock
from reservations.expiry import ExpirySweeper
from reservations.service import Reservations


class Engine:
    def __init__(
        self, redis: RedisIO, clock: Clock | None = None, replica: Replica | None = None
    ) -> None:
        self.redis = redis
        self.replica = replica
        self.stock = Stock(redis, clock)
        self.availability = Availability(redis)
        self.reservations = Reservations(redis, clock)
        self.sweeper = ExpirySweeper(self.reservations)

    @classmethod
    def connect(cls, url: str, clock: Clock | None = None, *, replica: bool = False) -> "Engine":
        redis = connect(url)
        return cls(redis, clock, Replica(redis, connect(url)) if replica else None)

    def start(self) -> None:
        self.sweeper.start()

    async def start_replica(self) -> None:
        """Loads the in-memory replica and starts following the streams (single Redis)."""
        assert self.replica is not None, "connect with replica=True"
        await self.replica.start()

    async def close(self) -> None:
        await self.sweeper.stop()
        if self.replica is not None:
            await self.replica.stop()
            await self.replica.tail.close()
        await self.redis.close()
