"""Every bound of the webhooks package, named once (conventions: limits in one place)."""

from typing import Final

# Registration
URL_LENGTH_MAX: Final = 2048
FILTER_ITEMS_MAX: Final = 1000  # skus, locations or groups of one endpoint
TYPES_MAX: Final = 64
ENDPOINTS_MAX: Final = 1000  # registered endpoints; fan-out matches each change against all
ENDPOINTS_LISTED_MAX: Final = ENDPOINTS_MAX
SECRET_BYTES: Final = 32  # whsec_<base64 of this many random bytes>
RESOLVE_TIMEOUT_S: Final = 5.0  # a target's name, at registration and before each attempt

# Fan-out from the changes feed
FANOUT_BATCH_MAX: Final = 500  # changes read per transaction
FANOUT_INTERVAL_S: Final = 0.2  # how often a process looks for new changes

# Delivery
IN_FLIGHT_MAX: Final = 64  # POSTs one process has open at once
CLAIM_BATCH_MAX: Final = 64  # deliveries claimed per query
LEASE_MS: Final = 60_000  # a claim's deadline: a killed process's claims are retried after it
DELIVERY_TIMEOUT_S: Final = 10.0  # connect + send + response, all told
CONNECT_TIMEOUT_S: Final = 5.0
RESPONSE_BYTES_MAX: Final = 64 * 1024  # read at most this much of a receiver's answer
KEEPALIVE_IDLE_S: Final = 30.0  # an idle connection older than this is closed, not reused
ERROR_TEXT_MAX: Final = 500  # of a failed answer, kept as last_error
POLL_INTERVAL_S: Final = 0.5  # an idle deliverer looks for due deliveries this often
POOL_SIZE: Final = 4  # PostgreSQL connections of one process's fan-out and deliverer

# Retries: 5 s doubling to a 4 h ceiling, +-20 %; dead after 16 attempts or 3 days.
BACKOFF_BASE_MS: Final = 5_000
BACKOFF_CAP_MS: Final = 4 * 3600 * 1000
BACKOFF_JITTER: Final = 0.2
ATTEMPTS_MAX: Final = 16
DELIVERY_AGE_MAX_MS: Final = 3 * 24 * 3600 * 1000

DELIVERIES_LISTED_MAX: Final = 100

assert CLAIM_BATCH_MAX <= IN_FLIGHT_MAX
assert LEASE_MS > DELIVERY_TIMEOUT_S * 1000 * 2  # a live attempt ends well inside its lease
assert BACKOFF_BASE_MS * (1 + BACKOFF_JITTER) < BACKOFF_CAP_MS
