"""Server settings, read from the environment once and validated at start-up.

Unsafe choices (authentication off) are refused unless the environment is explicitly
``development``: a forgotten flag must not open a production ledger to anyone.
"""

import os
from collections.abc import Mapping
from typing import Final

import msgspec

from atp.clock import Clock, simulated
from atp.keys import partitions_from_text
from atp.limits import RESERVATION_TTL_S_MAX, RESERVATION_TTL_S_MIN
from atp.redis_io import DEFAULT_REDIS_URL
from changes.limits import SSE_CONNECTIONS_MAX, SSE_HEARTBEAT_S
from orders.limits import ORDER_HOLD_TTL_S_DEFAULT

BODY_BYTES_MAX: Final = 256 * 1024  # a full batch query (500 skus x 64 chars) fits easily
IDEMPOTENCY_KEY_LENGTH_MAX: Final = 128
IDEMPOTENCY_PENDING_S: Final = 60  # a claim whose request died frees itself after this
IDEMPOTENCY_RETENTION_S: Final = 24 * 3600
REQUEST_ID_LENGTH_MAX: Final = 128
LIST_LIMIT_MAX: Final = 100
LIST_LIMIT_DEFAULT: Final = 20


class SettingsError(ValueError):
    pass


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    redis_url: str = DEFAULT_REDIS_URL
    # PostgreSQL: the journal every acknowledged write waits for, API keys, idempotency
    # records, registers. Always required: no write is acknowledged from Redis alone.
    pg_dsn: str | None = None
    environment: str = "production"  # "development" allows authentication off
    auth: bool = True
    # Keys are cached per process this long; a revoked key stops working within it.
    auth_cache_ttl_s: float = 2.0
    # Per calling key, per second, summed over all workers (each enforces its share).
    rate_limit_per_s: float = 2000.0
    rate_burst_s: float = 1.0  # burst allowance, in seconds of the rate
    workers: int = 1
    run_sweeper: bool = True
    body_bytes_max: int = BODY_BYTES_MAX
    # Availability reads from the in-memory replica (a single Redis or a cluster).
    replica: bool = True
    # The ledger partitions the replica holds (None: all); reads of others go to Redis.
    replica_partitions: frozenset[int] | None = None
    # One JSON line per request on the "atp.access" logger (api/middleware.py).
    access_log: bool = True
    # GET /v1/changes: streams one process serves at most, and the idle heartbeat.
    sse_connections_max: int = SSE_CONNECTIONS_MAX
    sse_heartbeat_s: float = SSE_HEARTBEAT_S
    # Webhooks: this process fans the changes feed out and delivers (webhooks/runner.py);
    # private, loopback and link-local targets only in development (SSRF).
    run_webhooks: bool = True
    webhooks_allow_private: bool = False
    # An order placed and not confirmed (paid) within this is released (orders/).
    order_hold_ttl_s: int = ORDER_HOLD_TTL_S_DEFAULT
    # A simulated retail day (simulation/): every process reads one accelerated clock,
    # atp/clock.py SimulatedClock.spec(). Development only: it moves every expiry.
    simulated_clock: str | None = None

    def validate(self) -> "Settings":
        if self.environment not in ("production", "development"):
            raise SettingsError("ATP_ENV must be production or development")
        if not self.auth and self.environment != "development":
            raise SettingsError("authentication may be off only with ATP_ENV=development")
        if self.pg_dsn is None:
            raise SettingsError(
                "writes are acknowledged only once durable in PostgreSQL: set ATP_PG_DSN "
                "(e.g. postgresql://postgres@127.0.0.1:5432/atp) and run `atp migrate`"
            )
        if self.webhooks_allow_private and self.environment != "development":
            raise SettingsError(
                "ATP_WEBHOOKS_ALLOW_PRIVATE may be on only with ATP_ENV=development: it lets "
                "webhooks reach internal addresses"
            )
        if self.workers < 1:
            raise SettingsError("workers must be at least 1")
        if not 0 < self.body_bytes_max <= 16 * 1024 * 1024:
            raise SettingsError("body_bytes_max must be between 1 byte and 16 MiB")
        if self.sse_connections_max < 0 or not 0 < self.sse_heartbeat_s <= 3600:
            raise SettingsError(
                "ATP_SSE_CONNECTIONS_MAX must not be negative and ATP_SSE_HEARTBEAT_S must be"
                " within (0, 3600]"
            )
        if not RESERVATION_TTL_S_MIN <= self.order_hold_ttl_s <= RESERVATION_TTL_S_MAX:
            raise SettingsError(
                f"ATP_ORDER_HOLD_TTL_S must be within [{RESERVATION_TTL_S_MIN}, "
                f"{RESERVATION_TTL_S_MAX}] seconds"
            )
        if self.rate_limit_per_s < 0:
            raise SettingsError("ATP_RATE_LIMIT_PER_S must not be negative (0 turns it off)")
        if self.simulated_clock is not None:
            if self.environment != "development":
                raise SettingsError("ATP_SIMULATED_CLOCK may be set only with ATP_ENV=development")
            simulated(self.simulated_clock)  # raises naming what is wrong
        return self

    def clock(self) -> Clock | None:
        """The simulated clock when set; None lets Redis stamp its own time."""
        return None if self.simulated_clock is None else simulated(self.simulated_clock)

    @property
    def use_replica(self) -> bool:
        """On a single Redis or a cluster (one reader per partition, atp/replica_tail.py)."""
        return self.replica

    @property
    def rate_limit_per_worker_s(self) -> float:
        return self.rate_limit_per_s / self.workers


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "on", "yes"):
        return True
    if value.lower() in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def _partitions(text: str) -> frozenset[int] | None:
    if not text.strip():
        return None
    try:
        return partitions_from_text(text)
    except ValueError as exc:
        raise SettingsError(f"ATP_REPLICA_PARTITIONS: {exc}") from exc


def access_log_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Read alone as well: the request middleware is built without the other settings."""
    env = os.environ if environ is None else environ
    return _flag(env.get("ATP_ACCESS_LOG", "on"))


def from_env(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    try:
        return Settings(
            redis_url=env.get("ATP_REDIS_URL", Settings.redis_url),
            pg_dsn=env.get("ATP_PG_DSN") or None,
            environment=env.get("ATP_ENV", "production"),
            auth=_flag(env.get("ATP_AUTH", "on")),
            auth_cache_ttl_s=float(env.get("ATP_AUTH_CACHE_TTL_S", 2.0)),
            rate_limit_per_s=float(env.get("ATP_RATE_LIMIT_PER_S", 2000.0)),
            workers=int(env.get("ATP_WORKERS", 1)),
            run_sweeper=_flag(env.get("ATP_SWEEPER", "on")),
            replica=_flag(env.get("ATP_REPLICA", "on")),
            replica_partitions=_partitions(env.get("ATP_REPLICA_PARTITIONS", "")),
            access_log=access_log_from_env(env),
            sse_connections_max=int(env.get("ATP_SSE_CONNECTIONS_MAX", SSE_CONNECTIONS_MAX)),
            sse_heartbeat_s=float(env.get("ATP_SSE_HEARTBEAT_S", SSE_HEARTBEAT_S)),
            run_webhooks=_flag(env.get("ATP_WEBHOOKS", "on")),
            webhooks_allow_private=_flag(env.get("ATP_WEBHOOKS_ALLOW_PRIVATE", "off")),
            order_hold_ttl_s=int(env.get("ATP_ORDER_HOLD_TTL_S", ORDER_HOLD_TTL_S_DEFAULT)),
            simulated_clock=env.get("ATP_SIMULATED_CLOCK") or None,
        ).validate()
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
