"""A private redis-server (loopback port 7370-7399, no persistence), ended by its PID.

bench.script measures Redis's own accounting, which other clients of a shared server would
blur; bench.hold serves its API from one too, so the Redis commands a hold sends can be
counted (INFO commandstats) without other engineers' tests in the figures.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PORTS = range(7370, 7400)
START_WAIT_S = 10.0
STOP_WAIT_S = 10.0


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class PrivateRedis:
    def __init__(self, db: int = 11) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is needed (apt-get install redis-server)")
        self.port = next((p for p in PORTS if _free(p)), 0)
        if not self.port:
            raise SystemExit(f"no free port in {PORTS.start}-{PORTS.stop - 1}")
        self.dir = tempfile.mkdtemp(prefix="atp-bench-redis-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--databases", "16"],
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_WAIT_S
        while _free(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        self.pid = self.proc.pid
        self.db = db
        self.url = f"redis://127.0.0.1:{self.port}/{db}"
        self.version = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
