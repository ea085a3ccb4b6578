"""The realistic mix (bench/http/locustfile.py) against ``atp serve``, headless."""

import os
import subprocess
import sys
from pathlib import Path

from bench.common.results import OUT
from bench.common.wrk import HOST
from cli import supervisor as serve

ROOT = Path(__file__).resolve().parents[2]  # the locust file imports bench.http from here


def run_locust(key: str, workers: int, seconds: float, port: int) -> dict[str, object]:
    """The realistic mix (bench/http/locustfile.py), headless, CSV in bench/out/."""
    processes = serve.start(HOST, port, workers)
    prefix = OUT / f"locust-w{workers}"
    stats = Path(f"{prefix}_stats.csv")
    stats.unlink(missing_ok=True)  # a failed run must not report the last one's figures
    try:
        if not serve.wait_ready(HOST, port):
            raise SystemExit("api did not start")
        env = {**os.environ, "ATP_BENCH_KEY": key}
        locust = str(Path(sys.executable).with_name("locust"))
        done = subprocess.run(
            [
                locust,
                "-f",
                str(Path(__file__).with_name("locustfile.py")),
                "--headless",
                "-u",
                "50",
                "-r",
                "50",
                "-t",
                f"{int(seconds)}s",
                "--host",
                f"http://{HOST}:{port}",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        serve.stop(processes)
    if not stats.exists():
        raise SystemExit(f"locust wrote no statistics (exit {done.returncode}): {done.stderr}")
    rows: dict[str, object] = {}
    lines = stats.read_text().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        cells = dict(zip(header, line.split(","), strict=False))
        rows[f"{cells['Type']} {cells['Name']}".strip()] = {
            "requests": int(cells["Request Count"]),
            "failures": int(cells["Failure Count"]),
            "requests_per_s": round(float(cells["Requests/s"]), 1),
            "latency_ms_p50": float(cells["50%"] or 0),
            "latency_ms_p99": float(cells["99%"] or 0),
        }
    return {
        "workers": workers,
        "users": 50,
        "seconds": seconds,
        "csv": f"{prefix}_stats.csv",
        "rows": rows,
    }
