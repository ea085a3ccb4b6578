"""``atp serve``: N single-worker uvicorn processes sharing one port with SO_REUSEPORT.

uvicorn --workers spreads keep-alive connections unevenly and leaves dead workers'
Prometheus files behind (stack-notes); separate processes, each with its own
SO_REUSEPORT socket, let the kernel balance connections, and the multiprocess metrics
directory is wiped before any worker starts.
"""

import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import time
import urllib.request
from multiprocessing.process import BaseProcess
from pathlib import Path

BACKLOG = 2048
READY_WAIT_S = 15.0


def _socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def worker(host: str, port: int, app: str = "api.app:serve_app") -> None:
    """One process: one event loop (uvloop), httptools, its own socket on the shared port."""
    import uvicorn  # imported here so the parent never loads the app or prometheus_client

    config = uvicorn.Config(
        app,
        factory=True,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[_socket(host, port)])


# The operator's choice, read before ``start`` sets the variable for its own workers.
_METRICS_DIR_GIVEN = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def prepare_metrics_dir(port: int) -> Path:
    """Wiped at start: files of a previous run's workers would be merged into /metrics."""
    directory = Path(_METRICS_DIR_GIVEN or f".run/prometheus-{port}")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())
    return directory


def wait_ready(host: str, port: int, timeout_s: float = READY_WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        url = f"http://{host}:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return True
        time.sleep(0.1)
    return False


def start(host: str, port: int, workers: int, app: str = "api.app:serve_app") -> list[BaseProcess]:
    prepare_metrics_dir(port)
    os.environ["ATP_WORKERS"] = str(workers)  # each worker enforces its share of rate limits
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(target=worker, args=(host, port, app), name=f"atp-worker-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    return processes


def stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join(timeout=10)
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.join()


def supervise(processes: list[BaseProcess], duration_s: float | None) -> int:
    """Until a signal, the duration, or a worker's death; then stop them all."""
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        while not stopping and all(p.is_alive() for p in processes):
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    finally:
        stop(processes)
    failed = any(p.exitcode not in (0, -signal.SIGTERM) for p in processes)
    return 1 if failed and not stopping and deadline is None else 0
