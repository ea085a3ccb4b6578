"""A private redis-server for the journal benchmark (loopback port 7200-7289, no
persistence, killed at the end)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


class PrivateRedis:
    def __init__(self) -> None:
        self.port = next(p for p in range(7200, 7290) if _free(p))
        self.dir = tempfile.mkdtemp(prefix="atp-bench-journal-")
        exe = shutil.which("redis-server")
        assert exe is not None, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        while _free(self.port):
            time.sleep(0.02)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0
