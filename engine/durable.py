"""DurableEngine: the engine whose writes are acknowledged only once PostgreSQL has them.

The same attributes as engine.local.Engine (stock, reservations, availability), the same
method names and signatures; each write is refused while the ledger is being rebuilt and
returns only after the durability group commit. Reads go straight to Redis (they are
refused too while the ledger is unavailable, so nobody reads an empty ledger as zero).
"""

import functools
from collections.abc import Awaitable, Callable

import asyncpg

from atp.clock import Clock
from atp.redis_io import RedisIO
from durability.group_commit import Durability, durable
from engine.local import Engine
from routing.directory import LocationDirectory


class DurableStock:
    def __init__(self, engine: Engine, durability: Durability) -> None:
        stock = engine.stock
        self.adjust = durable(stock.adjust, durability)
        self.set_on_hand = durable(stock.set_on_hand, durability)
        self.set_safety = durable(stock.set_safety, durability)
        self.add_incoming = durable(stock.add_incoming, durability)
        self.remove_incoming = durable(stock.remove_incoming, durability)
        self.receive_incoming = durable(stock.receive_incoming, durability)
        self.cancel_incoming = durable(stock.cancel_incoming, durability)
        self.redate_incoming = durable(stock.redate_incoming, durability)


class DurableReservations:
    def __init__(self, engine: Engine, durability: Durability, holds_durable: bool) -> None:
        service = engine.reservations
        # With holds_durable=False a hold is acknowledged from Redis alone: a Redis loss can
        # forget it (the units come back), while commits and what follows stay durable.
        self.reserve = durable(service.reserve, durability) if holds_durable else service.reserve
        self.extend = durable(service.extend, durability) if holds_durable else service.extend
        self.commit = durable(service.commit, durability)
        self.fulfill = durable(service.fulfill, durability)
        self.release = durable(service.release, durability)
        self.get = service.get  # a read: health is DurableEngine.ready


class DurableEngine:
    def __init__(self, engine: Engine, durability: Durability, holds_durable: bool = True) -> None:
        self.engine = engine
        self.durability = durability
        self.stock = DurableStock(engine, durability)
        self.reservations = DurableReservations(engine, durability, holds_durable)
        self.availability = engine.availability
        self.replica = engine.replica
        # What callers of a plain Engine also use (health checks, metrics).
        self.redis = engine.redis
        self.sweeper = engine.sweeper

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
        engine = Engine.connect(redis_url, clock, replica=replica, directory=directory)
        ready = None if on_ready is None else functools.partial(on_ready, engine.redis)
        durability = Durability(engine.redis, pool, on_ready=ready)
        await durability.start()
        if start_sweeper:
            engine.start()
        return cls(engine, durability, holds_durable)

    def start(self) -> None:
        """Starts the expiry sweeper (for callers that opened with start_sweeper=False)."""
        self.engine.start()

    @property
    def ready(self) -> bool:
        """False while the ledger is missing or being rebuilt: serve 503, not zeros."""
        return self.durability.healthy

    async def close(self) -> None:
        await self.durability.stop()
        await self.engine.close()
