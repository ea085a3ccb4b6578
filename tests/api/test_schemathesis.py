"""Schemathesis against the app's own OpenAPI document, on a real server (uvicorn,
uvloop, httptools) and the real Redis: no 5xx, responses conform to the document.

Checks: all but positive_data_acceptance, which expects every schema-valid request to be
accepted; ours refuse, by design and with documented 4xx problems, what JSON Schema
cannot say: `location` xor `group`, a zero delta, an Idempotency-Key the fuzzer reuses
with another body, integral floats such as 5.0 (JSON Schema calls them integers; msgspec
is strict), unknown cursors.
"""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from cli import supervisor as serve
from routing.location_directory import RoutingLocation
from routing.model import Capability, LocationKind
from support.harness import catalog

PORT = 7310
ROUTING_LOCATIONS = [
    RoutingLocation("S1", LocationKind.store, frozenset(Capability), 59.9, 10.7, 100),
    RoutingLocation("W1", LocationKind.warehouse, frozenset({Capability.ship}), 60.8, 11.1, 1000),
]
ROOT = Path(__file__).resolve().parents[2]
# Per operation: the suite stays under 10 minutes; ATP_SCHEMATHESIS_EXAMPLES=300 digs deeper.
MAX_EXAMPLES = int(os.environ.get("ATP_SCHEMATHESIS_EXAMPLES", "25"))


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_schemathesis_finds_no_server_errors_or_schema_violations(
    redis_url: str, db: asyncpg.Pool, pg_dsn: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_PG_DSN": pg_dsn,
        "ATP_RATE_LIMIT_PER_S": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(ROOT / f".run/prometheus-{PORT}"),
    }
    await catalog(db, ROUTING_LOCATIONS)  # routing's directory
    run = await asyncio.to_thread(_contract, env, tmp_path)
    # The failures first (each with its curl to reproduce), then the closing summary.
    failures = run.stdout.partition("= FAILURES =")[2].partition("= WARNINGS =")[0]
    summary = failures[:6000] + run.stdout[-1500:]
    print(summary)
    cases = re.search(r"(\d+) generated", run.stdout)
    assert cases is not None and int(cases.group(1)) > 0, summary
    server_log = (tmp_path / "server.log").read_text()
    tracebacks = (
        server_log[server_log.find("Traceback") :][:6000] if "Traceback" in server_log else ""
    )
    assert run.returncode == 0, summary + tracebacks


def _contract(env: dict[str, str], tmp_path: Path) -> "subprocess.CompletedProcess[str]":
    """A key, a server, and schemathesis against it (blocking: run in a thread)."""
    key = subprocess.run(
        [sys.executable, "-m", "cli.main", "keys", "create", "--scope", "admin"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with (tmp_path / "server.log").open("w") as log:  # a 500 logs its traceback here
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(PORT), "--duration", "500"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        assert serve.wait_ready("127.0.0.1", PORT), "server did not start"
        return subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                f"http://127.0.0.1:{PORT}/openapi.json",
                "-H",
                f"Authorization: Bearer {key}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                # An event stream ends only when the client goes (or asks: timeout_s), and
                # schemathesis reads a body to its end; tests/api/test_changes_api.py and
                # tests/changes/test_sse_live.py hold the stream to its contract.
                "--exclude-path",
                "/v1/changes",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--workers",
                "1",
                "--seed",
                "1",
            ],
            cwd=tmp_path,  # schemathesis leaves its state directory here
            capture_output=True,
            text=True,
            timeout=540,
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
