"""The engine: stock writes, availability reads and reservations over one Redis connection,
plus the expiry sweeper every engine process runs."""

from atp.availability import Availability
from atp.clock import Clock
from atp.redis_io import RedisIO, connect
from atp.stock import Stock
from reservations.expiry import ExpirySweeper
from reservations.service import Reservations


class Engine:
    def __init__(self, redis: RedisIO, clock: Clock | None = None) -> None:
        self.redis = redis
        self.stock = Stock(redis, clock)
        self.availability = Availability(redis)
        self.reservations = Reservations(redis, clock)
        self.sweeper = ExpirySweeper(self.reservations)

    @classmethod
    def connect(cls, url: str, clock: Clock | None = None) -> "Engine":
        return cls(connect(url), clock)

    def start(self) -> None:
        self.sweeper.start()

    async def close(self) -> None:
        await self.sweeper.stop()
        await self.redis.close()
