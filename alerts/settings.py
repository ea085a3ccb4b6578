"""The alerts' settings, read from the environment at start-up and checked against
alerts/limits.py; and where their ``now`` comes from (the engine's clock, so tests that
advance a manual clock drive resends without sleeping)."""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from alerts.limits import (
    PROMISE_HORIZON_DAYS,
    RESEND_DELAY_S_DEFAULT,
    RESEND_DELAY_S_MAX,
    RESEND_DELAY_S_MIN,
    SUBSCRIBERS_PER_UNIT_DEFAULT,
    SUBSCRIBERS_PER_UNIT_MAX,
    WORKER_INTERVAL_S,
    WORKER_INTERVAL_S_MAX,
)
from atp.clock import Clock, instant

Now = Callable[[], datetime]


@dataclass(frozen=True)
class AlertSettings:
    subscribers_per_unit: int = SUBSCRIBERS_PER_UNIT_DEFAULT
    resend_delay_s: int = RESEND_DELAY_S_DEFAULT
    horizon_days: int = PROMISE_HORIZON_DAYS
    interval_s: float = WORKER_INTERVAL_S
    run_worker: bool = True  # the API process consumes, sends and resends

    def validate(self) -> "AlertSettings":
        if not 1 <= self.subscribers_per_unit <= SUBSCRIBERS_PER_UNIT_MAX:
            raise ValueError(
                f"ATP_ALERTS_SUBSCRIBERS_PER_UNIT must be 1 to {SUBSCRIBERS_PER_UNIT_MAX}"
            )
        if not RESEND_DELAY_S_MIN <= self.resend_delay_s <= RESEND_DELAY_S_MAX:
            raise ValueError(
                f"ATP_ALERTS_RESEND_DELAY_S must be {RESEND_DELAY_S_MIN} to {RESEND_DELAY_S_MAX}"
            )
        if not 0 <= self.horizon_days <= PROMISE_HORIZON_DAYS:
            raise ValueError(f"the promise horizon must be 0 to {PROMISE_HORIZON_DAYS} days")
        if not 0 < self.interval_s <= WORKER_INTERVAL_S_MAX:
            raise ValueError(
                f"the alerts worker's interval must be in (0, {WORKER_INTERVAL_S_MAX}] s"
            )
        return self


def from_env(environ: Mapping[str, str] | None = None) -> AlertSettings:
    env = os.environ if environ is None else environ
    return AlertSettings(
        subscribers_per_unit=int(
            env.get("ATP_ALERTS_SUBSCRIBERS_PER_UNIT", SUBSCRIBERS_PER_UNIT_DEFAULT)
        ),
        resend_delay_s=int(env.get("ATP_ALERTS_RESEND_DELAY_S", RESEND_DELAY_S_DEFAULT)),
        run_worker=env.get("ATP_ALERTS_WORKER", "on").lower() not in ("0", "off", "false", "no"),
    ).validate()


def wall_clock(clock: Clock | None) -> Now:
    """The engine's clock as datetimes; 0 (Redis stamps its own time) reads the system's."""

    def now() -> datetime:
        return instant(clock)

    return now
