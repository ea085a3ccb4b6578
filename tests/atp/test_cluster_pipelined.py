"""ClusterRedis's pipelined script calls (atp/redis_cluster_pipe.py) on private clusters:
the replies are redis-py's, each call lands on the master of its slot, a MOVED is followed
once (the script applied once), and a master that dies or stalls fails its callers with a
ConnectionError or TimeoutError, never a hang; after a failover the calls find the
promoted replica."""

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from atp import redis_cluster_pipe
from atp.clock import ManualClock
from atp.limits import LEDGER_PARTITIONS
from atp.model import Channel
from atp.redis_cluster import ClusterRedis
from atp.redis_cluster_pipe import MasterPipe
from atp.redis_connect import connect
from atp.redis_io import ScriptCall
from atp.scripts import Script
from engine.local import Engine
from reservations.model import Line
from support.cluster_replicas import ReplicatedCluster, replicated_cluster
from support.servers import PrivateCluster, PrivateRedis

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]

LOC = "S1"
HANG_BOUND_S = 10.0  # liveness, not timing: a hung call never returns at all
STREAM_ID = re.compile(r"\b\d{13}-\d+\b")  # XADD ids: the wall clock's, differ between runs
SET_AND_ECHO = Script("set_and_echo", "redis.call('INCR', KEYS[1]) return ARGV[1]")
FAILING = Script("failing", "return redis.call('INCR', KEYS[1], 'extra')")
SPIN = Script("spin", "local n = 0 for i = 1, 20000000 do n = n + 1 end return n")


def cluster_redis(url: str) -> ClusterRedis:
    redis_io = connect(url)
    assert isinstance(redis_io, ClusterRedis)
    return redis_io


@pytest.fixture
async def cluster_io(cluster_url: str) -> AsyncIterator[ClusterRedis]:
    redis_io = cluster_redis(cluster_url)
    yield redis_io
    await redis_io.close()


def partition_key(partition: int, name: str) -> str:
    return f"atp:{{p{partition:02d}}}:test:{name}"


def masked(reply: Any) -> Any:
    if isinstance(reply, list):
        return [masked(r) for r in reply]
    return STREAM_ID.sub("<id>", reply) if isinstance(reply, str) else reply


async def test_engine_script_replies_equal_redis_pys(
    cluster_url: str, redis_cluster: PrivateCluster
) -> None:
    """An engine workload's script calls, recorded with their pipelined replies, replayed in
    order through redis-py on an emptied cluster (its script caches flushed too, so the
    pipes' NOSCRIPT path ran first): the same replies, stream ids aside."""
    engine = Engine.connect(cluster_url, ManualClock())
    assert isinstance(engine.redis, ClusterRedis)
    recorded: list[tuple[ScriptCall, Any]] = []
    pipes = engine.redis.pipes
    run_many = pipes.run_many

    async def recording(calls: Sequence[ScriptCall]) -> list[Any]:
        replies = await run_many(calls)
        recorded.extend(zip(calls, replies, strict=True))
        return replies

    pipes.run_many = recording  # type: ignore[method-assign]
    try:
        skus = [f"EQ-{i:02d}" for i in range(12)]
        for i, sku in enumerate(skus):
            await engine.stock.set_on_hand(sku, LOC, 10 + i, reason="count")
        await engine.stock.adjust(skus[0], LOC, 5, "receipt", op_id="op-eq")
        await engine.stock.adjust(skus[0], LOC, 5, "receipt", op_id="op-eq")  # duplicate
        await engine.stock.set_safety(skus[1], LOC, 2)
        lines = [Line(sku, LOC, 2) for sku in skus[:4]]
        await engine.reservations.reserve("r-eq", Channel.online, lines, ttl_s=60)
        await engine.reservations.reserve("r-eq", Channel.online, lines, ttl_s=60)  # again
        await engine.reservations.reserve("r-short", Channel.online, [Line(skus[5], LOC, 99)], 60)
        await engine.reservations.commit("r-eq")
        await engine.reservations.get("r-eq")
        await engine.availability.positions(skus, [LOC, "S2"])
        await engine.availability.position("EQ-NONE", LOC)
    finally:
        pipes.run_many = run_many  # type: ignore[method-assign]
        await engine.close()
    names = {call[0].name for call, _ in recorded}
    assert names >= {"set_on_hand", "adjust", "reserve_leg", "header_create", "read_positions"}
    redis_cluster.flushall()
    replay = cluster_redis(cluster_url)
    try:
        for call, reply in recorded:
            again = await replay._through_client(call)
            assert masked(again) == masked(reply), call[0].name
    finally:
        await replay.close()


async def test_a_script_error_is_redis_pys_error(cluster_io: ClusterRedis) -> None:
    key = partition_key(3, "error")
    with pytest.raises(ResponseError) as pipelined:
        await cluster_io.run(FAILING, [key], [])
    with pytest.raises(ResponseError) as through_client:
        await cluster_io._through_client((FAILING, [key], []))
    assert type(pipelined.value) is type(through_client.value)
    assert str(pipelined.value) == str(through_client.value)


async def test_one_run_many_lands_each_call_on_its_master(
    cluster_io: ClusterRedis, redis_cluster: PrivateCluster
) -> None:
    calls: list[ScriptCall] = [
        (SET_AND_ECHO, [partition_key(p, "landed")], [f"reply-{p}"])
        for p in range(LEDGER_PARTITIONS)
    ]
    assert await cluster_io.run_many(calls) == [f"reply-{p}" for p in range(LEDGER_PARTITIONS)]
    by_port = {node.require_port(): node for node in redis_cluster.nodes}
    for p in range(LEDGER_PARTITIONS):
        key = partition_key(p, "landed")
        owner = by_port[redis_cluster.master_of_key(key)]
        with contextlib.closing(owner.client()) as client:  # only the owner answers GET
            assert client.get(key) == "1"
    served = {int(name.rsplit(":", 1)[1]) for name in cluster_io.pipes.pipes}
    assert served == set(redis_cluster.ports)  # one connection a master, all three used


def pipes_only(redis_io: ClusterRedis) -> None:
    """No call may be handed to redis-py: the pipes must follow the MOVED themselves."""

    async def refused(call: ScriptCall) -> Any:
        raise AssertionError(f"{call[0].name} went through redis-py")

    redis_io.pipes.fallback = refused


async def test_a_keyless_call_goes_through_redis_py(cluster_io: ClusterRedis) -> None:
    keyless = Script("keyless", "return ARGV[1]")
    calls: list[ScriptCall] = [
        (keyless, [], ["none"]),
        (SET_AND_ECHO, [partition_key(1, "k")], ["k"]),
    ]
    assert await cluster_io.run_many(calls) == ["none", "k"]


def node_id(node: PrivateRedis) -> str:
    with contextlib.closing(node.client()) as client:
        return str(client.execute_command("CLUSTER", "MYID"))


def move_slot(cluster: PrivateCluster, slot: int, to: PrivateRedis) -> None:
    """An empty slot given to ``to`` (CLUSTER SETSLOT ... NODE on every master)."""
    target = node_id(to)
    for node in cluster.nodes:
        with contextlib.closing(node.client()) as client:
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target)
    deadline = time.monotonic() + HANG_BOUND_S
    while cluster.slot_owners()[slot] != to.require_port():
        assert time.monotonic() < deadline, "the slot did not move"
        time.sleep(0.05)


async def test_a_moved_slot_is_followed_once(
    cluster_io: ClusterRedis, redis_cluster: PrivateCluster
) -> None:
    """The slot of a key moves to another master behind the client's back: the call meets
    MOVED (the script did not run), the slot map is asked anew and the call sent once to the
    new owner, where the script runs exactly once."""
    key = partition_key(5, "moved")
    slot = cluster_io.client.keyslot(key)
    await cluster_io.command("PING")  # the slot map, as it is now
    owner = redis_cluster.master_of_key(key)
    other = next(n for n in redis_cluster.nodes if n.require_port() != owner)
    original = next(n for n in redis_cluster.nodes if n.require_port() == owner)
    move_slot(redis_cluster, slot, other)
    pipes_only(cluster_io)
    try:
        assert cluster_io.client.get_node_from_key(key).port == owner  # stale on purpose
        assert await cluster_io.run(SET_AND_ECHO, [key], ["after-move"]) == "after-move"
        assert cluster_io.client.get_node_from_key(key).port == other.require_port()
        with contextlib.closing(other.client()) as client:
            assert client.get(key) == "1"
    finally:
        redis_cluster.flushall()
        move_slot(redis_cluster, slot, original)


async def test_a_slot_map_pointing_at_the_wrong_node_is_corrected(
    cluster_io: ClusterRedis, redis_cluster: PrivateCluster
) -> None:
    keys_ = [partition_key(p, "wrong") for p in range(LEDGER_PARTITIONS)]
    await cluster_io.command("PING")
    manager = cluster_io.client.nodes_manager
    wrong = {}
    for key in keys_:
        slot = cluster_io.client.keyslot(key)
        right = manager.slots_cache[slot][0]
        wrong[slot] = next(n for n in cluster_io.client.get_primaries() if n is not right)
    for slot, node in wrong.items():
        manager.slots_cache[slot] = [node]
    calls: list[ScriptCall] = [(SET_AND_ECHO, [k], [k]) for k in keys_]
    pipes_only(cluster_io)
    assert await cluster_io.run_many(calls) == keys_
    checker = redis.RedisCluster(
        host="127.0.0.1", port=redis_cluster.ports[0], decode_responses=True
    )
    with contextlib.closing(checker):
        assert [checker.get(key) for key in keys_] == ["1"] * len(keys_)  # once, rightly placed


def set_slot(node: PrivateRedis, slot: int, *state: str) -> None:
    with contextlib.closing(node.client()) as client:
        client.execute_command("CLUSTER", "SETSLOT", slot, *state)


async def test_an_ask_during_a_migration_goes_through_redis_py(
    cluster_io: ClusterRedis, redis_cluster: PrivateCluster
) -> None:
    """A slot migrating from A to B, the key not on A: A answers ASK; redis-py's client
    (ASKING on the same connection) runs the call on B."""
    key = partition_key(7, "asked")
    slot = cluster_io.client.keyslot(key)
    await cluster_io.command("PING")
    owner = redis_cluster.master_of_key(key)
    source = next(n for n in redis_cluster.nodes if n.require_port() == owner)
    target = next(n for n in redis_cluster.nodes if n.require_port() != owner)
    set_slot(target, slot, "IMPORTING", node_id(source))
    set_slot(source, slot, "MIGRATING", node_id(target))
    try:
        assert await cluster_io.run(SET_AND_ECHO, [key], ["asked"]) == "asked"
        with contextlib.closing(target.client()) as client:
            client.execute_command("ASKING")
            assert client.get(key) == "1"
    finally:
        for node in (source, target):
            set_slot(node, slot, "STABLE")
        redis_cluster.flushall()


@contextlib.contextmanager
def stopped(server: PrivateRedis) -> Iterator[None]:
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


async def test_a_stalled_master_times_its_callers_out(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_cluster_pipe, "CLUSTER_REPLY_TIMEOUT_S", 0.3)
    pipe = MasterPipe("127.0.0.1", private_redis.require_port())
    try:
        assert await pipe.command("PING") == "PONG"
        with stopped(private_redis):
            calls = [pipe.command("PING") for _ in range(5)]
            outcomes = await asyncio.wait_for(
                asyncio.gather(*calls, return_exceptions=True), HANG_BOUND_S
            )
        assert all(isinstance(o, RedisTimeoutError) for o in outcomes), outcomes
        assert await pipe.command("PING") == "PONG"  # a new connection
    finally:
        await pipe.close()


async def test_a_refused_connect_is_a_redis_connection_error() -> None:
    pipe = MasterPipe("127.0.0.1", 1)
    try:
        with pytest.raises(RedisConnectionError):
            await pipe.command("PING")
    finally:
        await pipe.close()


@pytest.fixture
def replicated() -> Iterator[ReplicatedCluster]:
    with replicated_cluster() as cluster:
        yield cluster


async def until_served(redis_io: ClusterRedis, call: ScriptCall) -> Any:
    """The call retried on connection errors (as callers do, with their ids) until served."""
    deadline = time.monotonic() + HANG_BOUND_S * 3
    while True:
        try:
            return await redis_io.run(*call)
        except (RedisConnectionError, RedisTimeoutError):
            assert time.monotonic() < deadline, "never served after the failover"
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_killed_master_fails_its_callers_and_its_replica_serves_next(
    replicated: ReplicatedCluster,
) -> None:
    redis_io = cluster_redis(replicated.url)
    try:
        key = partition_key(9, "failover")
        master = replicated.master_of_key(key)
        replica = replicated.replica_of(master)
        assert await redis_io.run(SET_AND_ECHO, [key], ["before"]) == "before"
        in_flight = [
            asyncio.ensure_future(redis_io.run(SPIN, [partition_key(9, "spin")], []))
            for _ in range(20)
        ]
        await asyncio.sleep(0.05)  # written: the master spins through them one by one
        master.kill()
        outcomes = await asyncio.wait_for(
            asyncio.gather(*in_flight, return_exceptions=True), HANG_BOUND_S
        )
        assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
        with pytest.raises(RedisConnectionError):  # still the dead master's slot
            await asyncio.wait_for(redis_io.run(SET_AND_ECHO, [key], ["down"]), HANG_BOUND_S)
        replicated.take_over(replica)
        replicated.wait_promoted(replica)
        assert await until_served(redis_io, (SET_AND_ECHO, [key], ["after"])) == "after"
        names = set(redis_io.pipes.pipes)
        assert f"127.0.0.1:{replica.require_port()}" in names
        assert f"127.0.0.1:{master.require_port()}" not in names  # its connection closed
    finally:
        await redis_io.close()
    assert not redis_io.pipes.pipes
