"""What the lifespan creates and every request uses: one per worker process."""

from dataclasses import dataclass, field

from api.auth import Authenticator
from api.idempotency import Idempotency
from api.ratelimit import RateLimiter
from api.settings import Settings
from atp.engine import Engine
from atp.pos import Pos
from atp.replica_reads import ReplicaReads
from journal.engine import DurableEngine
from routing.directory import LocationDirectory
from routing.model import Policy
from routing.pickload import PickLoad


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine | DurableEngine
    pos: Pos
    auth: Authenticator
    idempotency: Idempotency
    limiter: RateLimiter
    replica_reads: ReplicaReads | None = None  # None: every read goes to Redis
    directory: LocationDirectory | None = None  # where routing finds locations
    pickload: PickLoad | None = None  # units allocated per location today
    # The retailer's routing policy; requests override fields.
    policy: Policy = field(default_factory=Policy)
