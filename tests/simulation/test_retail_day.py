"""The small retail day, end to end, as `atp simulate` runs it: a private engine (its own
Redis database and PostgreSQL database, a loopback port), the day's errands over HTTP, then
the report. Every check the issue names must pass, the report's files must be there, and
the KPIs the log recomputes must equal the engine's. The CLI ends its engine by PID."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from support.env import PG_DSN, REDIS_URL
from support.machine import ensure_postgres, ensure_redis
from support.postgres import reset_database
from support.servers import free_ports, port_is_free

pytestmark = pytest.mark.slow

ATP = Path(sys.executable).with_name("atp")
DAY_REDIS_DB = 13  # flushed by the day: none of the other suites' databases
DAY_PG_DATABASE = "atp_retail_day_test"
DAY_WAIT_S = 420  # the small day takes about a minute here; a loaded CI machine, longer
CHECKS = {
    "0 oversells",
    "every pickup promise kept or flagged",
    "pickup on time >= 95 %",
    "fewer split shipments than the rule chain",
    "KPIs from the log equal the API's",
    "no server error, no failed errand",
}


def _two_free_ports() -> int:
    """A port whose next one is free too (the engine, then the alerts' receiver)."""
    for port in free_ports(20):
        if port_is_free(port + 1):
            return port
    raise RuntimeError("no two neighbouring free ports")


def test_the_small_day_passes_every_check_and_writes_its_report(tmp_path: Path) -> None:
    redis_url = urlunparse(urlparse(REDIS_URL)._replace(path=f"/{DAY_REDIS_DB}"))
    pg_dsn = urlunparse(urlparse(PG_DSN)._replace(path=f"/{DAY_PG_DATABASE}"))
    ensure_redis(redis_url)
    ensure_postgres(pg_dsn)
    # The test's own database, from scratch: a schema an older checkout migrated is not ours.
    asyncio.run(reset_database(pg_dsn))
    out = tmp_path / "day"
    run = subprocess.run(
        [str(ATP), "simulate", "--preset", "small", "--out", str(out),
         "--port", str(_two_free_ports()), "--redis-url", redis_url, "--pg-dsn", pg_dsn],
        capture_output=True, text=True, timeout=DAY_WAIT_S,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    report = json.loads((out / "report.json").read_text())
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == CHECKS
    assert all(c["passed"] for c in checks.values()), checks
    figures = report["figures"]
    assert figures["orders"] > 0 and figures["register_sales"] > 0 and figures["calls"] > 0
    kpis = {k["name"] for k in report["kpis"]["kpis"]}
    assert {"pickup_on_time", "stage_time", "repeat_purchase_rate"} <= kpis
    for name in ("report.md", "day-log.jsonl", "sales-per-hour.png", "split-shipments.png"):
        assert (out / name).stat().st_size > 0, name
    assert "PASS  KPIs from the log equal the API's" in run.stdout
