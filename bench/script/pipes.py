"""Drives a private Redis with commands written ahead of time and reads what Redis counted.

The commands of one phase are packed as the engine's transport packs them
(``hiredis.pack_command``) into one file per client; ``redis-cli --pipe`` clients send them
all at once, concurrently. No Python sits between the files and Redis, so the phase's rate
is Redis's own, and Redis's accounting (``INFO commandstats`` after ``CONFIG RESETSTAT``)
gives each EVALSHA's time and the commands its script ran (Redis 7 counts a script's
``redis.call``s under their own names).
"""

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import hiredis
import msgspec
import redis

from bench.script.commands import Command
from bench.script.server import PrivateRedis

PIPE_TIMEOUT_S = 600.0
# Commands the driver and the benchmark send themselves, not ones a script ran (redis-cli
# --pipe ends with an ECHO to know its last reply).
NOT_INNER = frozenset(
    {"evalsha", "eval", "select", "info", "config|resetstat", "ping", "script", "echo"}
)
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class Phase(msgspec.Struct, frozen=True):
    scripts: int  # EVALSHA calls Redis counted
    seconds: float  # first client started to last client done
    usec_per_script: float  # Redis's usec_per_call of EVALSHA: the script's whole run
    inner_calls_per_script: float  # redis.calls a script made, on average
    inner_usec_per_script: float  # time inside those calls, per script
    redis_cpu_us_per_script: float  # redis-server's CPU (parsing, replies, I/O too) / scripts
    inner: dict[str, list[float]]  # command -> [calls per script, usec per script]
    errors: int  # error replies (a script that failed, NOSCRIPT, ...)

    @property
    def scripts_per_s(self) -> float:
        return self.scripts / self.seconds


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def write_files(
    groups: Sequence[Sequence[Command]], clients: int, db: int, directory: Path
) -> list[Path]:
    """A group (one operation's scripts, in order) stays with one client."""
    select = hiredis.pack_command(("SELECT", db))  # type: ignore[arg-type]
    buffers = [bytearray(select) for _ in range(clients)]
    for i, group in enumerate(groups):
        for command in group:
            buffers[i % clients] += hiredis.pack_command(command)  # type: ignore[arg-type]
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, buffer in enumerate(buffers):
        path = directory / f"client-{i}.resp"
        path.write_bytes(buffer)
        paths.append(path)
    return paths


def _errors(output: str) -> int:
    match = re.search(r"errors: (\d+), replies: (\d+)", output)
    if match is None:
        raise SystemExit(f"redis-cli --pipe said:\n{output[-2000:]}")
    return int(match.group(1))


def admin(server: PrivateRedis) -> redis.Redis:
    return redis.Redis(port=server.port, db=server.db, decode_responses=True)


def run_phase(server: PrivateRedis, files: Sequence[Path]) -> Phase:
    cli = shutil.which("redis-cli")
    if cli is None:
        raise SystemExit("redis-cli is needed (apt-get install redis-tools)")
    client = admin(server)
    client.config_resetstat()
    before, started = _ticks(server.pid), time.perf_counter()
    processes = []
    for path in files:
        with path.open("rb") as source:
            processes.append(
                subprocess.Popen(
                    [cli, "-h", "127.0.0.1", "-p", str(server.port), "--pipe"],
                    stdin=source,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    outputs = [p.communicate(timeout=PIPE_TIMEOUT_S)[0] for p in processes]
    seconds = time.perf_counter() - started
    cpu_us = (_ticks(server.pid) - before) / _TICKS_PER_S * 1e6
    stats = client.info("commandstats")
    client.close()
    evalsha = stats.get("cmdstat_evalsha", {"calls": 0, "usec": 0})
    scripts = int(evalsha["calls"])
    if not scripts:
        raise SystemExit("no EVALSHA reached Redis: " + " | ".join(outputs))
    inner = {
        name.removeprefix("cmdstat_"): [
            round(int(s["calls"]) / scripts, 2),
            round(int(s["usec"]) / scripts, 2),
        ]
        for name, s in stats.items()
        if name.removeprefix("cmdstat_") not in NOT_INNER
    }
    return Phase(
        scripts=scripts,
        seconds=seconds,
        usec_per_script=int(evalsha["usec"]) / scripts,
        inner_calls_per_script=sum(c for c, _ in inner.values()),
        inner_usec_per_script=sum(u for _, u in inner.values()),
        redis_cpu_us_per_script=cpu_us / scripts,
        inner=dict(sorted(inner.items(), key=lambda kv: -kv[1][1])),
        errors=sum(_errors(o) for o in outputs),
    )
