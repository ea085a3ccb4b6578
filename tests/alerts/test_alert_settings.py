"""The alerts' settings from the environment, refused outside their limits at start-up;
the clock they read (the engine's: a manual one in tests)."""

from datetime import UTC, datetime

import pytest

from alerts.limits import RESEND_DELAY_S_DEFAULT, SUBSCRIBERS_PER_UNIT_DEFAULT
from alerts.settings import from_env, wall_clock
from atp.clock import ManualClock, ServerClock


def test_defaults_and_overrides() -> None:
    default = from_env({})
    assert default.subscribers_per_unit == SUBSCRIBERS_PER_UNIT_DEFAULT
    assert default.resend_delay_s == RESEND_DELAY_S_DEFAULT and default.run_worker
    chosen = from_env(
        {
            "ATP_ALERTS_SUBSCRIBERS_PER_UNIT": "5",
            "ATP_ALERTS_RESEND_DELAY_S": "7200",
            "ATP_ALERTS_WORKER": "off",
        }
    )
    assert (chosen.subscribers_per_unit, chosen.resend_delay_s, chosen.run_worker) == (
        5,
        7200,
        False,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"ATP_ALERTS_SUBSCRIBERS_PER_UNIT": "0"},
        {"ATP_ALERTS_SUBSCRIBERS_PER_UNIT": "1001"},
        {"ATP_ALERTS_RESEND_DELAY_S": "5"},
        {"ATP_ALERTS_RESEND_DELAY_S": "many"},
    ],
)
def test_out_of_bounds_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"ATP_ALERTS|invalid literal"):
        from_env(env)


def test_the_clock_is_the_engines() -> None:
    manual = ManualClock(1_800_000_000_000)
    assert wall_clock(manual)() == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    assert before <= wall_clock(ServerClock())() <= datetime.now(UTC)
