"""``atp serve``: N single-worker uvicorn processes sharing one port with SO_REUSEPORT,
and optionally the journal consumer, supervised.

uvicorn --workers spreads keep-alive connections unevenly and leaves dead workers'
Prometheus files behind (stack-notes); separate processes, each with its own
SO_REUSEPORT socket, let the kernel balance connections, and the multiprocess metrics
directory is wiped before any worker starts.

A process that dies is replaced (the other workers keep the port meanwhile), at most
``RESTARTS_MAX`` times in ``RESTART_WINDOW_S``: beyond that it is a crash loop, and
restarting it again would only spin, so the server stops with a message that says so.
"""

import contextlib
import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from cli.access_lines import LineBatchHandler

BACKLOG = 2048
READY_WAIT_S = 15.0
RESTARTS_MAX = 5  # per RESTART_WINDOW_S, over all the processes of one server
RESTART_WINDOW_S = 60.0
POLL_S = 0.2
STOP_WAIT_S = 10.0
DEFAULT_STATE_DIR = ".run"
PR_SET_PDEATHSIG = 1  # ATP_STATE_DIR: where the server writes (metrics files)


def _socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def _die_with_parent() -> None:
    """Linux: a child whose ``atp serve`` was SIGKILLed gets SIGTERM instead of living on
    as an orphan that keeps the port."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the line above
        sys.exit(0)


def _access_logger() -> None:
    """``atp.access`` lines go to stdout as they are (each is one JSON document); uvicorn's
    own logging (configured when its Config is built) leaves this logger alone."""
    access = logging.getLogger("atp.access")
    access.addHandler(LineBatchHandler(sys.stdout))
    access.setLevel(logging.INFO)
    access.propagate = False


def worker(host: str, port: int, app: str = "ui.served:serve_app") -> None:
    """One process: one event loop (uvloop), httptools, its own socket on the shared port."""
    import uvicorn  # imported here so the parent never loads the app or prometheus_client

    _die_with_parent()
    config = uvicorn.Config(
        app,
        factory=True,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,  # ours (api/middleware.py) has the route template and key id
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    _access_logger()
    try:
        uvicorn.Server(config).run(sockets=[_socket(host, port)])
    finally:  # a multiprocessing child runs no atexit hooks: write what is buffered now
        for handler in logging.getLogger("atp.access").handlers:
            handler.flush()


def journal_worker(pg_dsn: str, redis_url: str) -> None:
    """``atp journal``, as a child of the server: PostgreSQL follows what only the stream
    consumer writes (the sweeper's expiries) without a second command to run."""
    from cli.main import main

    _die_with_parent()
    sys.exit(main(["journal", "--pg-dsn", pg_dsn, "--redis-url", redis_url]))


def state_dir() -> Path:
    return Path(os.environ.get("ATP_STATE_DIR") or DEFAULT_STATE_DIR)


# The operator's choice, read before ``start`` sets the variable for its own workers.
_METRICS_DIR_GIVEN = os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def prepare_metrics_dir(port: int) -> Path:
    """Wiped at start: files of a previous run's workers would be merged into /metrics."""
    directory = Path(_METRICS_DIR_GIVEN or state_dir() / f"prometheus-{port}")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())
    return directory


def forget_dead_worker(pid: int) -> None:
    """What prometheus_client's mark_process_dead does, without importing it here: the
    per-process "live" gauges of a dead worker would otherwise be merged forever."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for path in Path(directory).glob(f"gauge_live*_{pid}.db"):
            path.unlink(missing_ok=True)


def wait_ready(
    host: str, port: int, timeout_s: float = READY_WAIT_S, server: "Server | None" = None
) -> bool:
    """True once /readyz answers 200; False at the timeout or when ``server`` is told to stop."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (server is not None and server.stopping):
        url = f"http://{host}:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return True
        time.sleep(0.1)
    return False


@dataclass
class RestartBudget:
    """At most ``restarts_max`` restarts in any ``window_s``: a crash loop is refused."""

    restarts_max: int = RESTARTS_MAX
    window_s: float = RESTART_WINDOW_S
    _times: deque[float] = field(default_factory=deque)

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) >= self.restarts_max:
            return False
        self._times.append(now)
        return True


@dataclass(frozen=True)
class Role:
    """What a child process runs; a replacement runs the same."""

    name: str
    target: Any
    args: tuple[Any, ...]


def _say(message: str) -> None:
    print(f"atp serve: {message}", file=sys.stderr, flush=True)


def _spawn(role: Role) -> BaseProcess:
    process = multiprocessing.get_context("spawn").Process(
        target=role.target, args=role.args, name=f"atp-{role.name}"
    )
    process.start()
    _say(f"{role.name} started (pid {process.pid})")
    return process


def roles(
    host: str, port: int, workers: int, app: str, journal: tuple[str, str] | None
) -> list[Role]:
    found = [Role(f"worker-{i}", worker, (host, port, app)) for i in range(workers)]
    if journal is not None:
        found.append(Role("journal", journal_worker, journal))
    return found


class Server:
    """The children of one ``atp serve`` and the rule for replacing them."""

    def __init__(self, roles: list[Role], budget: RestartBudget | None = None) -> None:
        self.roles = roles
        self.budget = budget or RestartBudget()
        self.processes: list[BaseProcess] = []
        self.stopping = False  # set by SIGTERM or SIGINT

    def catch_signals(self) -> None:
        """Before any child starts: a signal during start-up must stop them too, not kill
        this process by default and leave them behind."""

        def request_stop(signum: int, frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def start(self) -> None:
        self.processes = [_spawn(role) for role in self.roles]

    def replace_dead(self) -> bool:
        """Restarts every child that died; False when the restart budget is spent."""
        for i, process in enumerate(self.processes):
            if process.is_alive():
                continue
            role = self.roles[i]
            _say(f"{role.name} (pid {process.pid}) died with exit code {process.exitcode}")
            if process.pid is not None:
                forget_dead_worker(process.pid)
            if not self.budget.allow(time.monotonic()):
                _say(
                    f"more than {self.budget.restarts_max} restarts within "
                    f"{self.budget.window_s:.0f} s: a crash loop; giving up (see the errors above)"
                )
                return False
            self.processes[i] = _spawn(role)
        return True

    def stop(self) -> None:
        _stop(self.processes)


def start_server(
    host: str,
    port: int,
    workers: int,
    app: str = "ui.served:serve_app",
    journal: tuple[str, str] | None = None,
) -> Server:
    """``journal``: (PostgreSQL DSN, Redis URL) to run the journal consumer as well."""
    prepare_metrics_dir(port)
    os.environ["ATP_WORKERS"] = str(workers)  # each worker enforces its share of rate limits
    server = Server(roles(host, port, workers, app, journal))
    server.catch_signals()
    server.start()
    return server


def start(
    host: str, port: int, workers: int, app: str = "ui.served:serve_app"
) -> list[BaseProcess]:
    """Workers without supervision (the benchmarks watch them themselves)."""
    return start_server(host, port, workers, app).processes


def stop(server: Server | list[BaseProcess]) -> None:
    """Stops a server's children (or a list of processes) by PID."""
    _stop(server.processes if isinstance(server, Server) else server)


def _stop(processes: list[BaseProcess]) -> None:
    """SIGTERM to each child by its PID, SIGKILL to any still alive after STOP_WAIT_S."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.join()


def supervise(server: Server, duration_s: float | None) -> int:
    """Until a signal or the duration, replacing children that die; then stop them all.
    Exit status 1 when it gave up on a crash loop."""
    deadline = None if duration_s is None else time.monotonic() + duration_s
    healthy = True
    try:
        while not server.stopping and healthy:
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
            healthy = server.stopping or server.replace_dead()
    finally:
        server.stop()
    return 0 if healthy else 1
