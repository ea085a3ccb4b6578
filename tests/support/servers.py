"""Private Redis servers the tests start, hold by PID and end themselves.

A ``PrivateRedis`` is one ``redis-server`` child process (not daemonized) on a loopback port
in 7100-7199 with its own temporary directory; fault suites kill -9 it and restart it. A
``PrivateCluster`` is three of them, cluster-enabled, joined by ``redis-cli --cluster
create`` as three masters (no replicas). Never the shared Redis on 6379.

Every server is started with PDEATHSIG set, so it dies with the test process even when
that is killed before its fixtures tear down; the fixtures kill by PID and remove the dirs.
"""

import contextlib
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import pytest
import redis

PORT_MIN, PORT_MAX = 7100, 7199
HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
CLUSTER_READY_TIMEOUT_S = 30.0
CLUSTER_SLOTS = 16384
CLUSTER_MASTERS = 3
START_ATTEMPTS_MAX = 5  # another process may take a port between our check and the bind
_PR_SET_PDEATHSIG = 1


def port_is_free(port: int) -> bool:
    """Nothing listens on or has bound the loopback port (SO_REUSEADDR, as Redis binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int, exclude: Sequence[int] = ()) -> list[int]:
    """``count`` free ports of 7100-7199, in random order so parallel runs rarely collide."""
    candidates = [p for p in range(PORT_MIN, PORT_MAX + 1) if p not in exclude]
    random.shuffle(candidates)
    found = [p for p in candidates if port_is_free(p)][:count]
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} free ports in {PORT_MIN}-{PORT_MAX}")
    return found


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGKILL it when the test process dies.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class PrivateRedis:
    """One redis-server child process. ``start`` / ``kill`` (-9) / ``stop`` / ``restart``
    (same port and directory, so an AOF given in ``extra_args`` survives) /
    ``restart_empty`` (same port, wiped directory) / ``close`` (stop, remove the dir)."""

    def __init__(self, port: int | None = None, extra_args: Sequence[str] = ()) -> None:
        self.port = port
        self.extra_args = list(extra_args)
        self.dir = Path(tempfile.mkdtemp(prefix="atp-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def client(self) -> "redis.Redis[str]":
        return redis.Redis(host=HOST, port=self.require_port(), decode_responses=True)

    def require_port(self) -> int:
        assert self.port is not None, "server was never started"
        return self.port

    def _command(self, port: int) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--daemonize",
            "no",
            *self.extra_args,
        ]

    def start(self, port: int | None = None) -> "PrivateRedis":
        """Starts on ``port`` (or the one given before, or a free one) and waits for PING.
        Without a fixed port, a port lost to a race is replaced by another free one."""
        assert self.process is None or self.process.poll() is not None, "already running"
        fixed = port or self.port
        for _ in range(START_ATTEMPTS_MAX):
            chosen = fixed or free_ports(1)[0]
            if self._try_start(chosen):
                self.port = chosen
                return self
            if fixed is not None:
                break
        raise RuntimeError(f"redis-server did not start on {fixed or 'any port'}: {self.log()}")

    def _try_start(self, port: int) -> bool:
        log = (self.dir / "redis.log").open("ab")
        try:
            self.process = subprocess.Popen(
                self._command(port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # e.g. the port was taken meanwhile
                self.process = None
                return False
            answering = self._answering_pid(port)
            if answering == self.process.pid:
                return True
            if answering is not None:  # another server holds the port: ours will not bind
                self.kill()
                return False
            time.sleep(0.02)
        self.kill()
        return False

    @staticmethod
    def _answering_pid(port: int) -> int | None:
        """The PID of the Redis answering PING on the port, if one does and has loaded."""
        client = redis.Redis(host=HOST, port=port, socket_timeout=0.5)
        try:
            client.ping()
            return int(client.info("server")["process_id"])
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return None  # not listening yet, or still loading (BUSY/LOADING)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown save, clients see the connection drop."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
            self.process = None

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it does not end in time."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def restart(self) -> "PrivateRedis":
        self.kill()
        return self.start(self.require_port())

    def restart_empty(self) -> "PrivateRedis":
        self.kill()
        self._wipe_dir()
        return self.start(self.require_port())

    def _wipe_dir(self) -> None:
        for path in self.dir.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def close(self) -> None:
        try:
            self.kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_redis_server(extra_args: Sequence[str] = ()) -> Iterator[PrivateRedis]:
    server = PrivateRedis(extra_args=extra_args)
    try:
        yield server.start()
    finally:
        server.close()


class PrivateCluster:
    """Three cluster-enabled private servers joined as masters covering all 16384 slots.
    Each node's cluster bus port is set explicitly, inside 7100-7199 too."""

    def __init__(self) -> None:
        self.nodes: list[PrivateRedis] = []

    @property
    def ports(self) -> list[int]:
        return [node.require_port() for node in self.nodes]

    @property
    def url(self) -> str:
        """The engine's URL (atp.redis_connect.connect)."""
        return f"redis+cluster://{HOST}:{self.ports[0]}"

    @property
    def master_urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> "PrivateCluster":
        ports = free_ports(2 * CLUSTER_MASTERS)
        for port, bus_port in zip(ports[:CLUSTER_MASTERS], ports[CLUSTER_MASTERS:], strict=True):
            node = PrivateRedis(
                extra_args=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    f"nodes-{port}.conf",
                    "--cluster-port",
                    str(bus_port),
                    "--cluster-node-timeout",
                    "5000",
                ]
            )
            self.nodes.append(node)
            node.start(port)
        self._create()
        self.wait_ready()
        return self

    def _create(self) -> None:
        addresses = [f"{HOST}:{port}" for port in self.ports]
        options = ["--cluster-replicas", "0", "--cluster-yes"]
        result = subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, *options],
            capture_output=True,
            text=True,
            timeout=CLUSTER_READY_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cluster create failed: {result.stdout}\n{result.stderr}")

    def wait_ready(self) -> None:
        """Every node reports cluster_state:ok, all slots ok, and knows every master."""
        deadline = time.monotonic() + CLUSTER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(self._node_ready(node) for node in self.nodes):
                return
            time.sleep(0.05)
        raise RuntimeError("cluster did not reach cluster_state:ok in time")

    @staticmethod
    def _node_ready(node: PrivateRedis) -> bool:
        with contextlib.closing(node.client()) as client:
            info = client.execute_command("CLUSTER", "INFO")
        fields = dict(line.split(":", 1) for line in str(info).split("\r\n") if ":" in line)
        return (
            fields.get("cluster_state") == "ok"
            and fields.get("cluster_slots_ok") == str(CLUSTER_SLOTS)
            and fields.get("cluster_known_nodes") == str(CLUSTER_MASTERS)
        )

    def clients(self) -> list["redis.Redis[str]"]:
        return [node.client() for node in self.nodes]

    def flushall(self) -> None:
        """Empties every master (they are private) and their script caches."""
        for node in self.nodes:
            with contextlib.closing(node.client()) as client:
                client.flushall()
                client.script_flush()

    def slot_owners(self) -> dict[int, int]:
        """slot -> port of the master serving it, from CLUSTER SLOTS."""
        owners: dict[int, int] = {}
        with contextlib.closing(self.nodes[0].client()) as client:
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                port = int(master[1])
                owners.update(dict.fromkeys(range(int(start), int(end) + 1), port))
        return owners

    def master_of_key(self, key: str) -> int:
        """The port of the master that serves ``key``, by CLUSTER KEYSLOT and CLUSTER NODES."""
        with contextlib.closing(self.nodes[0].client()) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            nodes = client.execute_command("CLUSTER", "NODES")
        for address, flags in _masters_in(nodes):
            for start, end in flags:
                if start <= slot <= end:
                    return int(address.split(":")[1].split("@")[0])
        raise AssertionError(f"no master serves slot {slot} of {key}")

    def close(self) -> None:
        errors = []
        for node in self.nodes:
            try:
                node.close()
            except Exception as error:  # keep ending the other nodes
                errors.append(error)
        self.nodes = []
        if errors:
            raise errors[0]


def _masters_in(nodes: object) -> list[tuple[str, list[tuple[int, int]]]]:
    """(address, slot ranges) of each master in a raw CLUSTER NODES reply."""
    masters = []
    for line in str(nodes).splitlines():
        parts = line.split()
        if len(parts) < 8 or "master" not in parts[2].split(","):
            continue
        ranges = []
        for item in parts[8:]:
            if item.startswith("["):
                continue  # a slot being migrated or imported
            low, _, high = item.partition("-")
            ranges.append((int(low), int(high or low)))
        masters.append((parts[1], ranges))
    return masters


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        yield cluster.start()
    finally:
        cluster.close()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class PrivatePostgres:
    """One PostgreSQL postmaster child process (run as the ``postgres`` user: initdb and
    postgres refuse root) on a loopback port, its data directory and socket in a temporary
    directory owned by ``postgres``. ``start`` (initdb on first use) / ``kill`` (-9, as a
    crash: the next start recovers from the WAL) / ``stop`` / ``restart`` / ``close``
    (stop, remove the dir). Durability settles nothing here: fsync is off, which a process
    crash does not notice (the OS keeps what was written)."""

    USER = "postgres"

    def __init__(self, port: int | None = None) -> None:
        import pwd

        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="atp-pg-"))
        entry = pwd.getpwnam(self.USER)
        self._uid, self._gid = entry.pw_uid, entry.pw_gid
        shutil.chown(self.dir, self.USER, self.USER)
        self.data = self.dir / "data"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.USER}@{HOST}:{self.require_port()}/{database}"

    def require_port(self) -> int:
        assert self.port is not None, "server was never started"
        return self.port

    @staticmethod
    def _bin(name: str) -> str:
        found = shutil.which(name)
        if found is None:
            versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
            candidates = [v / name for v in versions if (v / name).exists()]
            if not candidates:
                raise RuntimeError(f"{name} is not installed")
            found = str(candidates[-1])
        return found

    def _as_postgres(
        self, command: list[str], out: IO[bytes], die_with_parent: bool = False
    ) -> "subprocess.Popen[bytes]":
        return subprocess.Popen(
            command,
            user=self._uid,
            group=self._gid,
            extra_groups=[],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # After the switch to postgres (a change of credentials clears PDEATHSIG).
            preexec_fn=_die_with_parent if die_with_parent else None,
        )

    def _initdb(self) -> None:
        with (self.dir / "initdb.log").open("ab") as log:
            init = self._as_postgres(
                [self._bin("initdb"), "-A", "trust", "-U", self.USER, "-D", str(self.data)], log
            )
        if init.wait(timeout=120) != 0:
            raise RuntimeError(f"initdb failed: {self.log('initdb.log')}")

    def start(self, port: int | None = None) -> "PrivatePostgres":
        """Starts on ``port`` (or the one given before, or a free one) and waits until it
        accepts connections (crash recovery included)."""
        assert self.process is None or self.process.poll() is not None, "already running"
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._remove_stale_pid_file()
        self.port = port or self.port or free_ports(1)[0]
        with (self.dir / "postgres.log").open("ab") as log:
            self.process = self._as_postgres(
                [
                    self._bin("postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    f"listen_addresses={HOST}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=100",
                ],
                log,
                die_with_parent=True,
            )
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"postgres exited at start: {self.log()}")
            if self._accepting():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"postgres did not accept connections on {self.port}: {self.log()}")

    def _accepting(self) -> bool:
        ready = subprocess.run(
            [self._bin("pg_isready"), "-h", HOST, "-p", str(self.port), "-t", "1"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return ready.returncode == 0

    def _remove_stale_pid_file(self) -> None:
        """After a SIGKILL the postmaster leaves ``postmaster.pid`` behind (``kill`` waited
        for its backends to go, so the file is stale)."""
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def _children(self, pid: int) -> list[int]:
        """The backends of the postmaster ``pid`` (by their parent, from /proc)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(proc.name))
        return found

    def kill(self) -> None:
        """SIGKILL of the postmaster, as a crash; waits (bounded) for its backends, which
        notice the death and exit on their own, so the next start can take over."""
        if self.process is not None:
            backends = self._children(self.process.pid)
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
            self.process = None
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while any(_running(pid) for pid in backends):
                if time.monotonic() > deadline:
                    for pid in backends:  # ours: they were the postmaster's children
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + STOP_TIMEOUT_S
                time.sleep(0.02)

    def stop(self) -> None:
        """SIGINT (fast shutdown) and wait; SIGKILL if it does not end in time."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def restart(self) -> "PrivatePostgres":
        self.kill()
        return self.start(self.require_port())

    def log(self, name: str = "postgres.log") -> str:
        path = self.dir / name
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_postgres_server() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server.start()
    finally:
        server.close()


# Fixtures; tests/conftest.py registers them.


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[PrivateCluster]:
    """A private 3-master cluster for the whole session; use ``cluster_url`` to get it empty."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server / redis-cli not installed")
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture
def cluster_url(redis_cluster: PrivateCluster) -> str:
    """The engine URL of the private cluster, every master emptied first."""
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A private standalone server on its own port, for tests that kill and restart it."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    with private_redis_server() as server:
        yield server


__all__ = [
    "PrivateCluster",
    "PrivatePostgres",
    "PrivateRedis",
    "cluster_url",
    "free_ports",
    "port_is_free",
    "private_cluster",
    "private_postgres_server",
    "private_redis",
    "private_redis_server",
    "redis_cluster",
]
