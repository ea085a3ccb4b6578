"""The two ``atp serve`` processes of the POS benchmark (this tree and the earlier commit's
worktree), their environment, readiness and worker PIDs."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
START_WAIT_S = 60.0


def _ready(port: int, server: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"a server exited at start:\n{log.read_text()[-3000:]}")
        url = f"http://{HOST}:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"a server was not ready within {START_WAIT_S:.0f} s:\n{log.read_text()}")


def _workers(parent: int) -> list[int]:
    """The worker processes ``atp serve`` spawned (multiprocessing spawn children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
            if ppid == parent and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                found.append(int(proc.name))
    return found


class Servers:
    """Both ``atp serve`` processes; ended by PID (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="atp-bench-pos-"))

    def start(self, name: str, cwd: Path, port: int, env: dict[str, str]) -> int:
        log = self.tmp / f"{name}.log"
        command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--workers", "1"],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.processes.append(process)
        _ready(port, process, log)
        workers = _workers(process.pid)
        assert len(workers) == 1, workers
        return workers[0]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def server_env(redis_url: str, state: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ATP_REDIS_URL": redis_url,
        "ATP_RATE_LIMIT_PER_S": "0",
        "ATP_ACCESS_LOG": "off",
        "ATP_STATE_DIR": str(state),
        **extra,
    }
    for name in ("PROMETHEUS_MULTIPROC_DIR", "ATP_PG_DSN", "ATP_ENV", "ATP_AUTH", "PYTHONPATH"):
        if name not in extra:
            env.pop(name, None)
    return env


def before_key(tree: Path, redis_url: str) -> str:
    """The earlier commit kept keys in Redis: its own ``atp keys create``."""
    command = [sys.executable, "-m", "cli.main", "keys", "create", "--scope", "admin"]
    out = subprocess.run(
        [*command, "--redis-url", redis_url],
        cwd=tree,
        env=server_env(redis_url, tree, PYTHONPATH=str(tree), ATP_ENV="development"),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip().splitlines()[-1]
