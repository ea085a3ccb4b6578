"""DurableEngine: the engine whose writes are acknowledged only once PostgreSQL has them.

A local engine (engine/local.py) whose stock and reservation services are the durable
subclasses below: each write method is written out, refused while the ledger is being
rebuilt and returning only after the group commit (durability/group_commit.py). Reads go
straight to Redis; ``ready`` is False while the ledger is missing, so nobody reads an
empty ledger as zero. The HTTP API composes a local engine with the same ``Durability``
itself: its operation table waits once per request (api/ops.py).
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from atp.clock import Clock
from atp.model import StockOutcome, SupplyOutcome
from atp.redis_connect import connect
from atp.redis_io import RedisIO
from atp.replica import Replica
from atp.stock import Stock
from durability.group_commit import Durability, acknowledged
from engine.local import Engine
from reservations.coordinator import Reservations
from reservations.model import ReserveOutcome, TransitionOutcome
from routing.location_directory import LocationDirectory


class DurableStock(Stock):
    def __init__(self, redis: RedisIO, clock: Clock | None, durability: Durability) -> None:
        super().__init__(redis, clock)
        self._durability = durability

    async def adjust(self, *args: Any, **kwargs: Any) -> StockOutcome:
        call = functools.partial(super().adjust, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def set_on_hand(self, *args: Any, **kwargs: Any) -> StockOutcome:
        call = functools.partial(super().set_on_hand, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def set_safety(self, *args: Any, **kwargs: Any) -> StockOutcome:
        call = functools.partial(super().set_safety, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def add_incoming(self, *args: Any, **kwargs: Any) -> StockOutcome:
        call = functools.partial(super().add_incoming, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def remove_incoming(self, *args: Any, **kwargs: Any) -> StockOutcome:
        call = functools.partial(super().remove_incoming, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def receive_incoming(self, *args: Any, **kwargs: Any) -> SupplyOutcome:
        call = functools.partial(super().receive_incoming, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def cancel_incoming(self, *args: Any, **kwargs: Any) -> SupplyOutcome:
        call = functools.partial(super().cancel_incoming, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def redate_incoming(self, *args: Any, **kwargs: Any) -> SupplyOutcome:
        call = functools.partial(super().redate_incoming, *args, **kwargs)
        return await acknowledged(self._durability, call)


class DurableReservations(Reservations):
    """With ``holds_durable=False`` a hold (and its extension) is acknowledged from Redis
    alone: a Redis loss can forget it (the units come back), while commits and what
    follows stay durable."""

    def __init__(
        self, redis: RedisIO, clock: Clock | None, durability: Durability, holds_durable: bool
    ) -> None:
        super().__init__(redis, clock)
        self._durability = durability
        self._holds_durable = holds_durable

    async def reserve(self, *args: Any, **kwargs: Any) -> ReserveOutcome:
        call = functools.partial(super().reserve, *args, **kwargs)
        return await (acknowledged(self._durability, call) if self._holds_durable else call())

    async def extend(self, *args: Any, **kwargs: Any) -> TransitionOutcome:
        call = functools.partial(super().extend, *args, **kwargs)
        return await (acknowledged(self._durability, call) if self._holds_durable else call())

    async def commit(self, *args: Any, **kwargs: Any) -> TransitionOutcome:
        call = functools.partial(super().commit, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def fulfill(self, *args: Any, **kwargs: Any) -> TransitionOutcome:
        call = functools.partial(super().fulfill, *args, **kwargs)
        return await acknowledged(self._durability, call)

    async def release(self, *args: Any, **kwargs: Any) -> TransitionOutcome:
        call = functools.partial(super().release, *args, **kwargs)
        return await acknowledged(self._durability, call)


class DurableEngine(Engine):
    def __init__(
        self,
        redis: RedisIO,
        durability: Durability,
        clock: Clock | None = None,
        replica: Replica | None = None,
        *,
        directory: LocationDirectory | None = None,
        holds_durable: bool = True,
    ) -> None:
        # The sweeper keeps the local service: an expiry is nobody's acknowledged write.
        super().__init__(redis, clock, replica, directory=directory)
        self.durability = durability
        self.stock = DurableStock(redis, clock, durability)
        self.reservations = DurableReservations(redis, clock, durability, holds_durable)

    @classmethod
    async def open(
        cls,
        redis_url: str,
        pool: asyncpg.Pool,
        holds_durable: bool = True,
        clock: Clock | None = None,
        start_sweeper: bool = True,
        on_ready: Callable[[RedisIO], Awaitable[None]] | None = None,
        replica: bool = False,
        directory: LocationDirectory | None = None,
    ) -> "DurableEngine":
        """Connects, rebuilds the ledger if Redis lost it, starts the flusher (and the
        sweeper). ``on_ready(redis)`` runs after the ledger is ready, at start and after
        every rebuild while running."""
        redis = connect(redis_url)
        tail = Replica(redis, connect(redis_url)) if replica else None
        durability = await start_durability(redis, pool, on_ready)
        engine = cls(
            redis, durability, clock, tail, directory=directory, holds_durable=holds_durable
        )
        if start_sweeper:
            engine.start()
        return engine

    @property
    def ready(self) -> bool:
        """False while the ledger is missing or being rebuilt: serve 503, not zeros."""
        return self.durability.healthy

    async def close(self) -> None:
        await self.durability.stop()
        await super().close()


async def start_durability(
    redis: RedisIO,
    pool: asyncpg.Pool,
    on_ready: Callable[[RedisIO], Awaitable[None]] | None = None,
) -> Durability:
    """The group commit over ``redis``'s streams, started: the ledger is rebuilt first if
    Redis lost it, and ``on_ready(redis)`` runs after every (re)start of the ledger."""
    ready = None if on_ready is None else functools.partial(on_ready, redis)
    durability = Durability(redis, pool, on_ready=ready)
    await durability.start()
    return durability
