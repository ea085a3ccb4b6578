"""What a figure was measured on, and what else was using the CPU meanwhile.

Absolute figures only compare within one run on one machine (stack notes): a result is
recorded with the machine and with the CPU other processes took during the run, so a
noisy provisional run is visible as such.
"""

import os
import platform
import time
from importlib import metadata
from pathlib import Path

import msgspec

_PROC = Path("/proc")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# A process below this share of one core during the run is not worth naming.
BUSY_CORE_SHARE_MIN = 0.05
BUSY_PROCESSES_SHOWN_MAX = 8


class Machine(msgspec.Struct, frozen=True):
    cpus: int  # usable by this process (nproc)
    cpu_model: str
    python: str
    redis_server: str
    packages: dict[str, str]
    kernel: str


class BusyProcess(msgspec.Struct, frozen=True):
    pid: int
    command: str
    core_share: float  # CPU time over the run's wall time: 1.0 = one core throughout


def _cpu_model() -> str:
    for line in (_PROC / "cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine(redis_server: str, packages: tuple[str, ...]) -> Machine:
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return Machine(
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=_cpu_model(),
        python=platform.python_version(),
        redis_server=redis_server,
        packages=versions,
        kernel=platform.release(),
    )


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


class CpuSnapshot(msgspec.Struct, frozen=True):
    taken_s: float
    system_busy_ticks: int  # all CPUs, everything but idle and iowait
    ticks: dict[int, tuple[str, int]]  # pid -> (command, user + system ticks)


class CpuUse(msgspec.Struct, frozen=True):
    """Shares of one core over the run: 1.0 = one core busy throughout."""

    own_core_share: float
    redis_core_share: float
    # Everything else, including processes that started and ended during the run.
    others_core_share: float
    busy_processes: list[BusyProcess]  # the named ones still alive at the end


def _system_busy_ticks() -> int:
    # First line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...
    fields = [int(f) for f in (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def cpu_snapshot() -> CpuSnapshot:
    ticks: dict[int, tuple[str, int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command sits in parentheses and may itself hold spaces or parentheses.
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[int(entry.name)] = (command, int(fields[11]) + int(fields[12]))
    return CpuSnapshot(time.monotonic(), _system_busy_ticks(), ticks)


def cpu_use(before: CpuSnapshot, after: CpuSnapshot, redis_pid: int) -> CpuUse:
    wall_s = after.taken_s - before.taken_s
    assert wall_s > 0

    def share(ticks: int) -> float:
        return round(ticks / _TICKS_PER_S / wall_s, 2)

    def used(pid: int) -> int:
        if pid not in after.ticks:
            return 0
        command, ticks = after.ticks[pid]
        return ticks - before.ticks.get(pid, (command, 0))[1]

    own, redis = used(os.getpid()), used(redis_pid)
    busy = [
        BusyProcess(pid, command, share(used(pid)))
        for pid, (command, _) in after.ticks.items()
        if pid != os.getpid() and share(used(pid)) >= BUSY_CORE_SHARE_MIN
    ]
    busy.sort(key=lambda p: -p.core_share)
    others = after.system_busy_ticks - before.system_busy_ticks - own - redis
    return CpuUse(
        own_core_share=share(own),
        redis_core_share=share(redis),
        others_core_share=max(0.0, share(others)),
        busy_processes=busy[:BUSY_PROCESSES_SHOWN_MAX],
    )
