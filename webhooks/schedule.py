"""When a failed delivery is tried again, and when it is given up: a pure rule.

Exponential backoff with jitter (5 s doubling to a 4 h ceiling, each delay +-20 %, so
receivers recovering from an outage are not hit by every sender at once); dead after
``ATTEMPTS_MAX`` attempts or once the next try would fall past ``DELIVERY_AGE_MAX_MS``.
"""

import random

import msgspec

from webhooks.limits import (
    ATTEMPTS_MAX,
    BACKOFF_BASE_MS,
    BACKOFF_CAP_MS,
    BACKOFF_JITTER,
    DELIVERY_AGE_MAX_MS,
)


def backoff_ms(failed_attempts: int, rng: random.Random) -> int:
    """The delay after the ``failed_attempts``-th failed attempt (1 for the first)."""
    assert failed_attempts >= 1
    exponent = min(failed_attempts - 1, 32)  # the cap is reached long before; no huge ints
    nominal = min(BACKOFF_BASE_MS << exponent, BACKOFF_CAP_MS)
    return round(nominal * rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER))


class NextStep(msgspec.Struct, frozen=True):
    dead: bool
    next_attempt_ms: int  # meaningless when dead


def after_failure(attempts: int, since_ms: int, now_ms: int, rng: random.Random) -> NextStep:
    """``attempts``: made so far, this failed one included."""
    if attempts >= ATTEMPTS_MAX:
        return NextStep(True, now_ms)
    due = now_ms + backoff_ms(attempts, rng)
    if due - since_ms > DELIVERY_AGE_MAX_MS:
        return NextStep(True, now_ms)
    return NextStep(False, due)
