"""py-spy against the API worker: recording, and the samples as stages and functions.

``py-spy record --native`` (blocking: the worker is paused for each sample, so every stack
is whole) writes one line per distinct stack with its count (``--format raw``). A sample in
epoll is the loop waiting (or, on a busy machine, woken and waiting for a core): not CPU, so
it is left out; the other samples are spread over the worker's measured CPU per request.
"""

import collections
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec

from bench.hold import stages

PYSPY_WAIT_S = 60.0


class Samples(msgspec.Struct):
    total: int = 0
    idle: int = 0
    by_stage: dict[str, int] = msgspec.field(default_factory=dict)
    writing: dict[str, int] = msgspec.field(default_factory=dict)  # in a socket write
    by_function: dict[str, int] = msgspec.field(default_factory=dict)  # innermost Python
    function_stage: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def busy(self) -> int:
        return self.total - self.idle


def py_spy() -> str:
    """The virtualenv's py-spy (dev dependency), else one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is needed: .venv/bin/pip install -e '.[dev]'")
    return found


def start(pid: int, seconds: int, rate: int, out: Path) -> "subprocess.Popen[bytes]":
    command = [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--native"]
    command += ["--format", "raw", "--duration", str(seconds), "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(process: "subprocess.Popen[bytes]") -> None:
    _, err = process.communicate(timeout=PYSPY_WAIT_S)
    if process.returncode != 0:
        raise SystemExit(
            f"py-spy failed ({process.returncode}); it needs ptrace (root or CAP_SYS_PTRACE, "
            f"kernel.yama.ptrace_scope <= 1):\n{err.decode()[-2000:]}"
        )


def _function(stack: list[tuple[str, str]], stage: str) -> str:
    """The innermost Python function (its C calls count to it), or the C stage where none
    of the application's runs (the loop's own work, a collection)."""
    python = [(f, p) for f, p in stack if stages.is_python(p)]
    func, file = python[-1] if python else ("?", "")
    if stage in (stages.GC, stages.LOOP_C, stages.HTTP_C, stages.PG_C):
        return f"[C] {stage}"
    return f"{func} ({file})"


def add(samples: Samples, raw: Path) -> None:
    for line in raw.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        count = int(count_text)
        stack = stages.frames(stack_text)
        stage = stages.stage_of(stack)
        samples.total += count
        if stage == stages.IDLE:
            samples.idle += count
            continue
        samples.by_stage[stage] = samples.by_stage.get(stage, 0) + count
        if stages.writes(stack):
            samples.writing[stage] = samples.writing.get(stage, 0) + count
        function = _function(stack, stage)
        samples.by_function[function] = samples.by_function.get(function, 0) + count
        samples.function_stage.setdefault(function, stage)


def top(counts: dict[str, int], n: int) -> list[tuple[str, int]]:
    return collections.Counter(counts).most_common(n)
