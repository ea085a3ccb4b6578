"""The servers bench.hold loads: the API twice (access log off and on) and the baseline app,
each one ``cli.supervisor`` worker as ``atp serve`` runs it (as bench/http starts them), all
on one private redis-server, each API with its own Redis database and PostgreSQL database
(a durable engine: every write waits for its group commit), so neither's group commit
reads the other's streams."""

import asyncio
import contextlib
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

from atp.limits import QTY_MAX
from bench.common.cli import admin_key, fresh_database
from bench.common.results import OUT
from bench.script.server import PrivateRedis
from cli import supervisor as serve
from engine.local import Engine

HOST = "127.0.0.1"
SKUS = [f"B-{i:03d}" for i in range(100)]  # the SKUs bench/common/wrk.py's hold script uses
LOCATIONS = ["W1", "S1"]
# On, and high enough never to refuse: its check is part of every request's cost.
RATE_LIMIT_PER_S = "1000000"
READY_WAIT_S = 60.0


@dataclass
class Api:
    name: str
    port: int
    redis_db: int
    pg_dsn: str
    access_log: bool
    key: str = ""
    processes: list[BaseProcess] = field(default_factory=list)

    @property
    def pid(self) -> int:
        pid = self.processes[0].pid
        assert pid is not None
        return pid


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


async def _seed(url: str, dsn: str) -> str:
    await fresh_database(dsn)
    engine = Engine.connect(url)
    try:
        await engine.redis.command("FLUSHDB")
        for sku in SKUS:
            for location in LOCATIONS:
                await engine.stock.set_on_hand(sku, location, QTY_MAX // 2, reason="bench")
        return await admin_key(dsn, "bench-hold")
    finally:
        await engine.close()


@contextlib.contextmanager
def _stdout_to(path: Path | None) -> Iterator[None]:
    """A spawned worker inherits file descriptor 1: the access log's lines go to ``path``."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    with path.open("ab") as target:
        os.dup2(target.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _environment(redis: PrivateRedis, db: int, dsn: str | None, access_log: bool) -> None:
    os.environ.update(
        {
            "ATP_REDIS_URL": f"redis://{HOST}:{redis.port}/{db}",
            "ATP_RATE_LIMIT_PER_S": RATE_LIMIT_PER_S,
            "ATP_ACCESS_LOG": "on" if access_log else "off",
            "ATP_STATE_DIR": str(OUT / f"hold-state-{os.getpid()}"),
        }
    )
    if dsn is not None:
        os.environ["ATP_PG_DSN"] = dsn


class Servers:
    def __init__(self, redis: PrivateRedis, apis: list[Api], baseline_port: int) -> None:
        self.redis, self.apis, self.baseline_port = redis, apis, baseline_port
        self.baseline: list[BaseProcess] = []
        self.access_log = OUT / f"hold-access-{os.getpid()}.log"

    def start(self) -> None:
        busy = [p for p in [*(a.port for a in self.apis), self.baseline_port] if not _free(p)]
        if busy:
            raise SystemExit(f"ports in use: {busy}")
        OUT.mkdir(exist_ok=True)
        for api in self.apis:
            url = f"redis://{HOST}:{self.redis.port}/{api.redis_db}"
            api.key = asyncio.run(_seed(url, api.pg_dsn))
            _environment(self.redis, api.redis_db, api.pg_dsn, api.access_log)
            with _stdout_to(self.access_log if api.access_log else None):
                api.processes = serve.start(HOST, api.port, 1, "api.app:serve_app")
        db = max(a.redis_db for a in self.apis) + 1
        _environment(self.redis, db, None, False)
        self.baseline = serve.start(HOST, self.baseline_port, 1, "bench.common.baseline_app:create")
        for port in [*(a.port for a in self.apis), self.baseline_port]:
            if not serve.wait_ready(HOST, port, READY_WAIT_S):
                raise SystemExit(f"the server on port {port} did not become ready")

    @property
    def baseline_pid(self) -> int:
        pid = self.baseline[0].pid
        assert pid is not None
        return pid

    def stop(self) -> None:
        """Each worker by its PID (cli.supervisor.stop: SIGTERM, then SIGKILL)."""
        for api in self.apis:
            serve.stop(api.processes)
        serve.stop(self.baseline)
        self.access_log.unlink(missing_ok=True)
        state = OUT / f"hold-state-{os.getpid()}"
        shutil.rmtree(state, ignore_errors=True)
