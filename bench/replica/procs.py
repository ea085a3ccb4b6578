"""Process and machine helpers of the replica lag benchmark: start and stop the spawned
processes (each by its own handle), talk to them, and account for the CPU over a window."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from bench.common.machine import BusyProcess, CpuSnapshot, cpu_use

STOP_TIMEOUT_S = 5.0
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


async def recv(conn: Connection, timeout_s: float) -> object:
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, conn.poll, timeout_s):
        raise TimeoutError("a benchmark process did not answer")
    return await loop.run_in_executor(None, conn.recv)


def to_bytes(message: object) -> bytes:
    assert isinstance(message, bytes), message
    return message


def start_process(
    ctx: multiprocessing.context.SpawnContext,
    target: Callable[[bytes, Connection], None],
    plan: bytes,
) -> tuple[BaseProcess, Connection]:
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=target, args=(plan, theirs), daemon=True)
    process.start()
    theirs.close()
    return process, ours


def stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.terminate()  # SIGTERM to this pid only
            process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()


def run_queue_ns(pids: list[int]) -> int:
    """Time these threads spent runnable but waiting for a CPU (/proc/PID/schedstat)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total


def shares_of(
    before: CpuSnapshot, after: CpuSnapshot, redis_pid: int, replica: int, writers: list[int]
) -> tuple[float, float, float, float, list[BusyProcess]]:
    """Shares of a core over the window: replica, writers, Redis, everything else."""
    use = cpu_use(before, after, redis_pid)
    wall = after.taken_s - before.taken_s

    def share(pid: int) -> float:
        if pid not in after.ticks:
            return 0.0
        used = after.ticks[pid][1] - before.ticks.get(pid, ("", 0))[1]
        return used / _TICKS_PER_S / wall

    replica_share = share(replica)
    writers_share = sum(share(p) for p in writers)
    others = max(0.0, use.others_core_share - replica_share - writers_share)
    mine = {replica, *writers, redis_pid}
    busy = [p for p in use.busy_processes if p.pid not in mine]
    return replica_share, writers_share, use.redis_core_share, round(others, 2), busy
