"""The engine's one clock (atp/clock.py): a clock that lets Redis stamp still gives business
timestamps this host's time, and a simulated clock is the same in every process."""

import time

import pytest

from api.settings import SettingsError, from_env
from atp.clock import ManualClock, ServerClock, SimulatedClock, instant, instant_ms, simulated


def test_a_server_clock_reads_this_host_s_time_not_the_epoch() -> None:
    before = int(time.time() * 1000)
    found = instant_ms(ServerClock())
    assert before <= found <= int(time.time() * 1000)
    assert instant(None).year >= 2026


def test_a_manual_clock_is_read_as_given() -> None:
    assert instant_ms(ManualClock(1_234)) == 1_234


def test_a_simulated_clock_runs_at_its_rate_from_its_origin() -> None:
    started = int(time.time() * 1000) - 1_000  # a real second ago
    clock = SimulatedClock(origin_ms=0, started_ms=started, rate=60)
    assert clock.now_ms() >= 60_000  # at least a simulated minute has passed
    assert clock.real_ms(60_000) == started + 1_000


def test_every_process_reading_the_same_spec_reads_the_same_clock() -> None:
    clock = SimulatedClock(1_800_000_000_000, 1_700_000_000_000, 120)
    again = simulated(clock.spec())
    assert (again.origin_ms, again.started_ms, again.rate) == (
        clock.origin_ms,
        clock.started_ms,
        clock.rate,
    )


@pytest.mark.parametrize("spec", ["1,2", "a,b,c", "1,2,0", "1,2,1e9"])
def test_a_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        simulated(spec)


def test_a_simulated_clock_is_refused_outside_development() -> None:
    spec = SimulatedClock(0, 0, 10).spec()
    with pytest.raises(SettingsError, match="ATP_ENV=development"):
        from_env({"ATP_SIMULATED_CLOCK": spec, "ATP_PG_DSN": "postgresql://x/y"})
    settings = from_env(
        {"ATP_SIMULATED_CLOCK": spec, "ATP_PG_DSN": "postgresql://x/y", "ATP_ENV": "development"}
    )
    assert isinstance(settings.clock(), SimulatedClock)
