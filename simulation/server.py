"""The engine the day runs against: ``atp serve``'s supervised workers and journal
consumer, on a loopback port, with the day's simulated clock in every process; stopped by
PID at the end."""

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator

from cli import supervisor
from simulation.config import DayConfig

HOST = "127.0.0.1"
READY_WAIT_S = 60.0
RATE_LIMIT_PER_S = "1000000"  # the day is one key calling as a whole chain


@contextlib.contextmanager
def engine(
    config: DayConfig, port: int, redis_url: str, pg_dsn: str, clock_spec: str, workers: int
) -> Iterator[supervisor.Server]:
    state = tempfile.mkdtemp(prefix="atp-day-")
    saved = dict(os.environ)
    os.environ.update(
        {
            "ATP_REDIS_URL": redis_url,
            "ATP_PG_DSN": pg_dsn,
            "ATP_ENV": "development",  # the simulated clock, and webhooks to loopback
            "ATP_SIMULATED_CLOCK": clock_spec,
            "ATP_WEBHOOKS_ALLOW_PRIVATE": "on",
            "ATP_RATE_LIMIT_PER_S": RATE_LIMIT_PER_S,
            "ATP_ACCESS_LOG": "off",
            "ATP_STATE_DIR": state,
        }
    )
    server = supervisor.start_server(HOST, port, workers, journal=(pg_dsn, redis_url))
    # start_server makes SIGINT only set a flag (for `atp serve`): here it stops the day.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        if not supervisor.wait_ready(HOST, port, READY_WAIT_S):
            raise RuntimeError(f"the engine on port {port} did not become ready")
        yield server
    finally:
        supervisor.stop(server)
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(state, ignore_errors=True)
