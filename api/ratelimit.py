"""Per-key rate limits: a token bucket per API key in each worker process.

Each of N workers enforces rate/N, so the sum holds without a Redis round trip per
request (which would cost more than the limit protects). The kernel spreads connections
across SO_REUSEPORT workers; a client on one connection meets 1/N of its limit first,
which errs on the side of refusing. Buckets are bounded in number.
"""

import math
import time

from api.problems import ApiError

BUCKETS_MAX = 100_000


class RateLimiter:
    def __init__(self, default_per_s: float, workers: int = 1, burst_s: float = 1.0) -> None:
        self._default = default_per_s
        self._workers = max(1, workers)
        self._burst_s = burst_s
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def check(self, key_id: str, per_s: float | None = None) -> None:
        rate = (self._default if per_s is None else per_s) / self._workers
        if rate <= 0:
            return  # off
        capacity = max(1.0, rate * self._burst_s)
        now = time.monotonic()
        tokens, at = self._buckets.get(key_id, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            wait_s = max(1, math.ceil((1.0 - tokens) / rate))
            raise ApiError(
                429,
                "rate-limited",
                "Too many requests",
                f"this key is limited to {rate * self._workers:g} requests per second",
                headers={"Retry-After": str(wait_s)},
                retry_after_s=wait_s,
            )
        if len(self._buckets) >= BUCKETS_MAX and key_id not in self._buckets:
            self._buckets.clear()
        self._buckets[key_id] = (tokens - 1.0, now)
