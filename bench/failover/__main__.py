"""What ``WAIT 1 <ms>`` after each write costs, and whether it closes the failover window
(issue 17), on a private 3-master, 3-replica cluster (tests/support/cluster_replicas.py,
free loopback ports 7100-7199; every process ended by PID).

Writes are stock receipts with op ids, through the engine's own scripts, sent on one
connection to one master (atp.redis_io.PipelinedRedis) to SKUs of its partitions, so a
``WAIT`` on that connection covers every write sent before it. Two parts:

- cost: per-write latency and throughput with no WAIT and with ``WAIT 1 <timeout>`` after
  each write, 1 caller and ``--callers`` callers (the writes of one event-loop turn share
  one WAIT's round trip only if they share the connection, which they do here).
- the window: under load the master's replica link is dropped (its replica stopped, so it
  cannot reconnect) for ``WINDOW_S``, the master is SIGKILLed and its replica promoted
  (TAKEOVER). Counted: writes the script acknowledged (and, with WAIT, that at least one
  replica confirmed) whose op receipt the promoted replica lacks. Also a kill with no cut:
  what asynchronous replication alone leaves behind on loopback.

python -m bench.failover [--quick] [--json FILE] [--no-results-md]
"""

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import redis as sync_redis

from atp import keys
from atp.limits import LEDGER_PARTITIONS
from atp.redis_connect import connect
from bench.common.machine import load_average
from bench.common.results import OUT, RESULTS_MD, update_markdown_section, write_json
from bench.common.stats import percentile_ns
from engine.local import Engine

TITLE = "Failover (issue 17)"
PREAMBLE = "# Benchmark results\n"
# The tests' private servers, loaded by name: mypy checks bench, not the test helpers.
CLUSTER_MODULE = "tests.support.cluster_replicas"
WAIT_TIMEOUT_MS = 100
WINDOW_S = 0.3
LOAD_S = 1.0  # load before the fault
STORE = "S1"
ROUNDS = 3


class Cost(msgspec.Struct, frozen=True):
    wait: bool
    callers: int
    writes: int
    writes_per_s: float
    latency_us_p50: float
    latency_us_p99: float


class Window(msgspec.Struct, frozen=True):
    scenario: str
    acknowledged: int  # by the script (and, with WAIT, by >= 1 replica)
    refused: int  # WAIT answered 0 replicas: a WAIT policy would not acknowledge these
    lost: int  # acknowledged, and not on the promoted replica


class Report(msgspec.Struct, frozen=True):
    costs: list[Cost]
    windows: list[Window]
    load_average: tuple[float, float, float]


def _skus_on(cluster: Any, master: Any) -> list[str]:
    """One SKU in each partition the master serves."""
    port = master.require_port()
    found = []
    for partition in range(LEDGER_PARTITIONS):
        if cluster.master_of_key(keys.stream(partition)).require_port() == port:
            found.append(
                next(
                    f"B{partition}-{n}"
                    for n in range(100_000)
                    if keys.partition_of_sku(f"B{partition}-{n}") == partition
                )
            )
    return found


class Load:
    """Callers writing receipts (op id per write) on one connection to one master."""

    def __init__(self, engine: Engine, skus: list[str], wait: bool) -> None:
        self.engine, self.skus, self.wait = engine, skus, wait
        self.acknowledged: list[tuple[str, str]] = []  # (sku, op id)
        self.refused = 0
        self.latencies_ns: list[int] = []
        self.stop = asyncio.Event()

    async def write(self, caller: int, step: int) -> None:
        sku = self.skus[(caller + step) % len(self.skus)]
        op_id = f"c{caller}-{step}"
        started = time.perf_counter_ns()
        await self.engine.stock.adjust(sku, STORE, 1, "receipt", op_id=op_id)
        if self.wait:
            replicas = await self.engine.redis.command("WAIT", 1, WAIT_TIMEOUT_MS)
            if int(replicas) < 1:
                self.refused += 1
                return
        self.latencies_ns.append(time.perf_counter_ns() - started)
        self.acknowledged.append((sku, op_id))

    async def caller(self, caller: int, writes: int | None) -> None:
        step = 0
        while not self.stop.is_set() and (writes is None or step < writes):
            try:
                await self.write(caller, step)
            except (OSError, sync_redis.RedisError):
                return  # the master is gone
            step += 1

    async def run(self, callers: int, writes: int | None) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(self.caller(c, writes) for c in range(callers)))
        return time.perf_counter() - started


async def _cost(url: str, skus: list[str], wait: bool, callers: int, writes: int) -> Cost:
    engine = Engine(connect(url))
    try:
        await Load(engine, skus, False).run(callers, 20)  # warm: scripts loaded
        load = Load(engine, skus, wait)
        seconds = await load.run(callers, writes // callers)
    finally:
        await engine.close()
    ordered = sorted(load.latencies_ns)
    return Cost(
        wait, callers, len(ordered), round(len(ordered) / seconds),
        round(percentile_ns(ordered, 50) / 1000, 1), round(percentile_ns(ordered, 99) / 1000, 1),
    )  # fmt: skip


def _missing(port: int, acknowledged: list[tuple[str, str]]) -> int:
    """Acknowledged writes whose op receipt the (promoted) node lacks."""
    client = sync_redis.Redis(host="127.0.0.1", port=port)
    with contextlib.closing(client):
        pipe = client.pipeline(transaction=False)
        for sku, op_id in acknowledged:
            pipe.exists(keys.operation(keys.partition_of_sku(sku), op_id))
        return sum(1 for found in pipe.execute() if not found)


def _fault(cluster: Any, index: int, cut: bool) -> None:
    master, replica = cluster.masters[index], cluster.replicas[index]
    if cut:
        os.kill(replica.pid, signal.SIGSTOP)
        cluster.cut_replication(master)
        time.sleep(WINDOW_S)  # the master goes on acknowledging writes
    master.kill()
    if cut:
        os.kill(replica.pid, signal.SIGCONT)
        time.sleep(0.2)  # the replica applies what reached it before the link dropped
    cluster.take_over(replica)
    cluster.wait_promoted(replica)


async def _window(scenario: str, wait: bool, cut: bool, callers: int) -> Window:
    module = importlib.import_module(CLUSTER_MODULE)
    cluster = module.ReplicatedCluster()
    try:
        await asyncio.to_thread(cluster.start)
        master = cluster.masters[0]
        skus = _skus_on(cluster, master)
        engine = Engine(connect(master.url))
        load = Load(engine, skus, wait)
        running = asyncio.create_task(load.run(callers, None))
        await asyncio.sleep(LOAD_S)
        await asyncio.to_thread(_fault, cluster, 0, cut)
        load.stop.set()
        await running
        await engine.close()
        promoted = cluster.masters[0].require_port()
        lost = await asyncio.to_thread(_missing, promoted, load.acknowledged)
        return Window(scenario, len(load.acknowledged), load.refused, lost)
    finally:
        await asyncio.to_thread(cluster.close)


async def _run(quick: bool, callers: int) -> Report:
    module = importlib.import_module(CLUSTER_MODULE)
    writes = 2_000 if quick else 10_000
    costs = []
    with module.replicated_cluster() as cluster:
        master = cluster.masters[0]
        skus = _skus_on(cluster, master)
        for count in (1, callers):
            # Rounds alternate without and with WAIT; the median round of each is kept.
            rounds: dict[bool, list[Cost]] = {False: [], True: []}
            for _ in range(ROUNDS):
                for wait in (False, True):
                    rounds[wait].append(await _cost(master.url, skus, wait, count, writes))
            for wait in (False, True):
                ranked = sorted(rounds[wait], key=lambda c: c.writes_per_s)
                costs.append(ranked[ROUNDS // 2])
    windows = [
        await _window("kill, no cut, no WAIT", False, False, callers),
        await _window(f"replica link cut {WINDOW_S}s, no WAIT", False, True, callers),
        await _window(
            f"replica link cut {WINDOW_S}s, WAIT 1 {WAIT_TIMEOUT_MS}", True, True, callers
        ),
    ]
    return Report(costs, windows, load_average())


def markdown(report: Report) -> str:
    lines = [
        "`python -m bench.failover`: one connection to one master of a private 3+3 cluster,",
        f"stock receipts through the engine's script, with and without `WAIT 1 {WAIT_TIMEOUT_MS}`"
        f" after each write (median of {ROUNDS} rounds). Load average at the end: "
        + ", ".join(f"{v:.1f}" for v in report.load_average)
        + ".",
        "",
        "| WAIT | callers | writes | writes/s | p50 µs | p99 µs |",
        "|---|---|---|---|---|---|",
    ]
    for c in report.costs:
        lines.append(
            f"| {'yes' if c.wait else 'no'} | {c.callers} | {c.writes} | {c.writes_per_s} |"
            f" {c.latency_us_p50} | {c.latency_us_p99} |"
        )
    lines += [
        "",
        "The window: the master SIGKILLed under load, its replica promoted (TAKEOVER);",
        "*lost* = acknowledged writes whose op receipt the promoted replica lacks.",
        "",
        "| scenario | acknowledged | refused (WAIT = 0) | lost |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {w.scenario} | {w.acknowledged} | {w.refused} | {w.lost} |" for w in report.windows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 writes per cost figure")
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--json", type=str, default=str(OUT / "failover.json"))
    parser.add_argument("--no-results-md", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(_run(args.quick, args.callers))
    text = markdown(report)
    print(text)
    write_json(Path(args.json), report)
    if not args.no_results_md:
        update_markdown_section(RESULTS_MD, TITLE, text, PREAMBLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
