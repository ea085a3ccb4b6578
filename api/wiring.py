"""What the lifespan creates and every request uses: one per worker process."""

from dataclasses import dataclass, field

import asyncpg

from api.auth import Authenticator
from api.devices import DeviceDirectory
from api.idempotency import Idempotency
from api.instance import Instance
from api.ratelimit import RateLimiter
from api.settings import Settings
from atp.register_events import Registers
from atp.replica_reads import ReplicaReads
from changes.feed import ChangeFeed
from durability.group_commit import Durability
from durability.history import reservation_from_journal, settle
from engine.protocol import LedgerEngine
from orders.service import Orders
from reservations.model import Line, Reservation, TransitionOutcome
from routing.location_directory import LocationDirectory
from routing.model import Policy
from routing.pickload import PickLoad


@dataclass(frozen=True)
class Services:
    settings: Settings
    # The engine's writes are acknowledged by api/ops.py once ``durability`` has them.
    engine: LedgerEngine
    durability: Durability
    pool: asyncpg.Pool  # PostgreSQL: the journal, keys, idempotency records, devices
    instance: Instance
    registers: Registers
    auth: Authenticator
    idempotency: Idempotency
    devices: DeviceDirectory
    limiter: RateLimiter
    replica_reads: ReplicaReads | None = None  # None: every read goes to Redis
    feed: ChangeFeed | None = None  # the changes feed: SSE clients, its sequencer
    directory: LocationDirectory | None = None  # where routing finds locations
    pickload: PickLoad | None = None  # units allocated per location today
    orders: Orders | None = None  # the order service (orders/)
    # The retailer's routing policy; requests override fields.
    policy: Policy = field(default_factory=Policy)

    async def reservation(self, rid: str) -> Reservation | None:
        """From Redis while live; a finished one (a rebuild restores only live ones) from
        the journal."""
        found = await self.engine.reservations.get(rid)
        return found if found is not None else await reservation_from_journal(self.pool, rid)

    async def settle(
        self, rid: str, action: str, lines: list[Line] | None, op_id: str | None
    ) -> TransitionOutcome:
        """A fulfill or release (``action``: 'fulfilled', 'released'); one Redis no longer
        has (ended before a rebuild) is answered from the journal, as it would have been."""
        return await settle(self.engine.reservations, self.pool, rid, action, lines, op_id)

    @property
    def ledger_ready(self) -> bool:
        """False while the ledger is missing or being rebuilt: serve 503, not zeros."""
        return self.engine.ready
