"""A private 3-master, 3-replica Redis Cluster for failover tests (issue 17), built from
support/servers.py's ``PrivateRedis`` on free loopback ports; every process is ended by
its PID (``close``).

``cluster-node-timeout`` is short (``NODE_TIMEOUT_MS``) so a killed master is failed over
by its replica on its own within about two seconds; ``take_over`` promotes a replica at
once (``CLUSTER FAILOVER TAKEOVER``: no agreement of the masters, as an operator would
after a crash). ``cut_replication`` drops a master's replica links: until the replica has
reconnected (``replicationCron``, about once a second) every write the master takes is
acknowledged to its client and on no replica, which is the window a failover can lose;
``lag`` holds that window open (the replica stopped), ``kill_and_promote`` ends it, and
``journaled_in_window`` counts the journaled events the promoted replica lacked.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import redis

from atp import keys

from .servers import HOST, PrivateRedis, free_ports  # relative: bench.failover loads it too

MASTERS = 3
NODE_TIMEOUT_MS = 1_000
READY_TIMEOUT_S = 30.0
PROMOTE_TIMEOUT_S = 15.0
POLL_S = 0.05
SLOTS = 16384


def _fields(info: object) -> dict[str, str]:
    return dict(line.split(":", 1) for line in str(info).split("\r\n") if ":" in line)


def _client(node: PrivateRedis) -> "redis.Redis[str]":
    return redis.Redis(host=HOST, port=node.require_port(), decode_responses=True, socket_timeout=2)


class ReplicatedCluster:
    """``masters[i]`` is replicated by ``replicas[i]`` (as ``redis-cli --cluster create``
    paired them; checked after the create)."""

    def __init__(self) -> None:
        self.masters: list[PrivateRedis] = []
        self.replicas: list[PrivateRedis] = []
        self._started: list[PrivateRedis] = []  # every process, for close()

    @property
    def nodes(self) -> list[PrivateRedis]:
        return self.masters + self.replicas

    @property
    def url(self) -> str:
        """The engine's URL (atp.redis_connect.connect), seeded with every node."""
        return f"redis+cluster://{HOST}:{self.masters[0].require_port()}"

    def start(self) -> "ReplicatedCluster":
        ports = free_ports(4 * MASTERS)
        nodes = []
        for port, bus_port in zip(ports[: 2 * MASTERS], ports[2 * MASTERS :], strict=True):
            node = PrivateRedis(
                extra_args=[
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", f"nodes-{port}.conf",
                    "--cluster-port", str(bus_port),
                    "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                    "--repl-diskless-sync", "yes",
                    "--repl-diskless-sync-delay", "0",
                ]
            )  # fmt: skip
            nodes.append(node)
            self._started.append(node)
            node.start(port)
        self.masters, self.replicas = nodes[:MASTERS], []
        self._create(nodes)
        self._pair(nodes)
        self.wait_ready()
        return self

    def _create(self, nodes: list[PrivateRedis]) -> None:
        addresses = [f"{HOST}:{node.require_port()}" for node in nodes]
        result = subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "1"],
            input="yes\n",
            capture_output=True,
            text=True,
            timeout=READY_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cluster create failed: {result.stdout}\n{result.stderr}")

    def _pair(self, nodes: list[PrivateRedis]) -> None:
        """Orders ``replicas`` like ``masters``, from the replicas' own view (who they follow)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        by_port = {node.require_port(): node for node in nodes}
        while time.monotonic() < deadline:
            follows: dict[int, int] = {}
            for node in nodes:
                with contextlib.closing(_client(node)) as client:
                    info = client.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") == "up":
                    follows[int(info["master_port"])] = node.require_port()
            masters = [node for node in nodes if node.require_port() in follows]
            if len(masters) == MASTERS:
                self.masters = masters
                self.replicas = [by_port[follows[m.require_port()]] for m in masters]
                return
            time.sleep(POLL_S)
        raise RuntimeError("replicas did not attach to their masters in time")

    def wait_ready(self, nodes: list[PrivateRedis] | None = None) -> None:
        """Every live node of ``nodes`` (default all) says cluster_state:ok, all slots ok."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(self._ready(node) for node in nodes or self.nodes):
                return
            time.sleep(POLL_S)
        raise RuntimeError("cluster did not reach cluster_state:ok in time")

    @staticmethod
    def _ready(node: PrivateRedis) -> bool:
        try:
            with contextlib.closing(_client(node)) as client:
                info = _fields(client.execute_command("CLUSTER", "INFO"))
        except redis.RedisError:
            return False
        return info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == str(SLOTS)

    def replica_of(self, master: PrivateRedis) -> PrivateRedis:
        return self.replicas[self.masters.index(master)]

    def master_of_key(self, key: str) -> PrivateRedis:
        with contextlib.closing(_client(self.masters[0])) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    port = int(master[1])
                    return next(m for m in self.masters if m.require_port() == port)
        raise AssertionError(f"no master serves {key}")

    @staticmethod
    def cut_replication(master: PrivateRedis) -> int:
        """Drops the master's replica links (they reconnect within about a second)."""
        with contextlib.closing(_client(master)) as client:
            return int(client.execute_command("CLIENT", "KILL", "TYPE", "replica"))

    @staticmethod
    def take_over(replica: PrivateRedis) -> None:
        """Promotes the replica now, its master dead or not."""
        with contextlib.closing(_client(replica)) as client:
            client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")

    def wait_promoted(self, replica: PrivateRedis) -> float:
        """Seconds until the replica is a master and the cluster serves every slot again;
        then it stands in ``masters`` where its master stood (now in ``replicas``)."""
        started = time.monotonic()
        while time.monotonic() - started < PROMOTE_TIMEOUT_S:
            with contextlib.closing(_client(replica)) as client:
                role = client.info("replication").get("role")
            if role == "master" and self._ready(replica):
                index = self.replicas.index(replica)
                self.masters[index], self.replicas[index] = replica, self.masters[index]
                return time.monotonic() - started
            time.sleep(POLL_S)
        raise RuntimeError("the replica was not promoted in time")

    def close(self) -> None:
        errors = []
        for node in self._started:
            try:
                node.close()  # SIGKILL by PID, then the directory
            except Exception as error:  # keep ending the other nodes
                errors.append(error)
        self.masters, self.replicas, self._started = [], [], []
        if errors:
            raise errors[0]


def last_ids_on(node_port: int, partitions: list[int]) -> dict[int, str]:
    """Each partition stream's last id as the node holds it (a replica too: READONLY)."""
    found: dict[int, str] = {}
    client = redis.Redis(host=HOST, port=node_port, decode_responses=True)
    with contextlib.closing(client):
        client.execute_command("READONLY")
        for partition in partitions:
            try:
                info = client.xinfo_stream(keys.stream(partition))
            except redis.ResponseError:
                found[partition] = "0-0"  # no stream on the node
            else:
                found[partition] = str(info["last-generated-id"])
    return found


@dataclass
class Fault:
    killed_ms: int  # wall clock when the master was killed
    killed_s: float  # monotonic
    replica_had: dict[int, str]  # the replica's last stream ids when it took over
    promoted_s: float  # from the kill until the replica served every slot


def lag(cluster: "ReplicatedCluster", index: int, window_s: float) -> None:
    """The replica stops (so it cannot reconnect) and the master drops its link: for
    ``window_s`` the master acknowledges writes no replica gets."""
    master, replica = cluster.masters[index], cluster.replicas[index]
    assert replica.pid is not None
    os.kill(replica.pid, signal.SIGSTOP)
    assert cluster.cut_replication(master) >= 1
    time.sleep(window_s)


def kill_and_promote(
    cluster: "ReplicatedCluster", index: int, partitions: list[int], take_over: bool
) -> Fault:
    """SIGKILL of the (lagging) master; its replica resumes, then takes over by itself after
    cluster-node-timeout, or at once with ``take_over`` (CLUSTER FAILOVER TAKEOVER)."""
    master, replica = cluster.masters[index], cluster.replicas[index]
    assert replica.pid is not None
    killed_ms, killed_s = int(time.time() * 1000), time.monotonic()
    try:
        master.kill()
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    time.sleep(0.2)  # the replica applies what reached it before the link dropped
    replica_had = last_ids_on(replica.require_port(), partitions)
    if take_over:
        cluster.take_over(replica)
    cluster.wait_promoted(replica)
    return Fault(killed_ms, killed_s, replica_had, time.monotonic() - killed_s)


def fail_over(
    cluster: "ReplicatedCluster", index: int, partitions: list[int], window_s: float
) -> Fault:
    """``lag`` for ``window_s``, then the master killed and its replica promoted by itself."""
    lag(cluster, index, window_s)
    return kill_and_promote(cluster, index, partitions, take_over=False)


async def journaled_in_window(pool: asyncpg.Pool, fault: Fault) -> int:
    """Journaled events the promoted replica lacked: written before the kill, after the
    replica's last id. Each is an acknowledged write a failover without the journal loses."""
    total = 0
    async with pool.acquire() as conn:
        for partition, last in fault.replica_had.items():
            ms, _, seq = last.partition("-")
            total += await conn.fetchval(
                "SELECT count(*) FROM ledger_events WHERE partition = $1"
                " AND (stream_ms, stream_seq) > ($2, $3) AND stream_ms <= $4",
                partition, int(ms), int(seq), fault.killed_ms,
            )  # fmt: skip
    return total


@contextlib.contextmanager
def replicated_cluster() -> Iterator[ReplicatedCluster]:
    cluster = ReplicatedCluster()
    try:
        yield cluster.start()
    finally:
        cluster.close()
