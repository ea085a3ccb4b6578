"""The Dockerfile builds an image that serves, checked without a Docker engine.

The test reads the Dockerfile (dockerfile-parse) and builds each stage's files the way its
lines do, one folder per stage standing for that stage's root: WORKDIR, COPY (from the
build context, minus what .dockerignore drops, or --from another stage), ENV, and RUN for
the commands it knows (a virtualenv, pip, mkdir; the OS's packages and users are the base
image's business and are skipped). Then, from the runtime stage's files alone, it runs
`atp migrate` and the image's ENTRYPOINT + CMD against the test servers (a PostgreSQL
database of its own, the test Redis), waits for /healthz and /readyz, and runs the
HEALTHCHECK command. compose.yaml is checked for Redis's AOF and the migrate-then-serve
order. Every process started is ended by its PID.
"""

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml  # type: ignore[import-untyped]
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from cli import supervisor as serve
from support.env import PG_DSN
from support.journal import fresh_database

ROOT = Path(__file__).resolve().parents[2]
VENV = "/opt/venv"
# RUN commands about the OS (packages, users, file owners): the base image's business.
SKIPPED = {"apt-get", "rm", "useradd", "chown"}
RAN_HERE = {"python", f"{VENV}/bin/pip", "mkdir"}
_STARTED = re.compile(r"started \(pid (\d+)\)")


@dataclass
class Stage:
    name: str
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    user: str = "root"
    healthcheck: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    def host(self, path: str) -> Path:
        """Where a path of this stage's file system is in the test's folder."""
        absolute = path if path.startswith("/") else f"{self.workdir.rstrip('/')}/{path}"
        return self.root / absolute.lstrip("/")


def _ignored() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().removeprefix("**/") for line in lines if line.strip()[:1] not in ("", "#")]


def _copy(source: Path, destination: str, target: Path) -> None:
    """Docker's rules: a folder's contents go into the target folder; a file goes into a
    target ending in "/", else becomes the target."""
    if source.is_dir():
        ignore = shutil.ignore_patterns(*_ignored(), "*.pyc")
        shutil.copytree(source, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)
        return
    if destination.endswith("/"):
        target = target / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target, follow_symlinks=False)


def _do_copy(stage: Stage, value: str, stages: dict[str, Stage]) -> None:
    words = shlex.split(value)
    source_stage = None
    if words[0].startswith("--from="):
        source_stage = stages[words.pop(0).removeprefix("--from=")]
    *sources, destination = words
    for source in sources:
        path = source_stage.host(source) if source_stage else ROOT / source
        assert path.exists(), f"COPY {source}: not found"
        _copy(path, destination, stage.host(destination))


def _do_run(stage: Stage, value: str) -> None:
    for command in value.split("&&"):
        words = shlex.split(command)
        if words[0] in SKIPPED:
            continue
        assert words[0] in RAN_HERE, f"RUN {words[0]}: teach tests/cli/test_dockerfile.py about it"
        # pip's cache may serve this test (the image is built with --no-cache-dir).
        argv = [str(stage.host(w)) if w.startswith("/") else w for w in words]
        argv = [w for w in argv if w != "--no-cache-dir"]
        if argv[0] == "python":
            argv[0] = sys.executable  # the same Python minor version as the base image
        cwd = stage.host(stage.workdir)
        cwd.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=900)


def _env(value: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(value))


def _exec_form(value: str) -> list[str]:
    words: list[str] = json.loads(value)
    return words


def build(tmp: Path) -> tuple[list[Stage], list[str]]:
    """Every stage's files, and the instructions seen (for the static checks)."""
    (tmp / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    parsed = DockerfileParser(path=str(tmp / "Dockerfile"))
    stages: dict[str, Stage] = {}
    order: list[Stage] = []
    seen: list[str] = []
    for item in parsed.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT":
            continue
        seen.append(instruction)
        if instruction == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(order))
            order.append(Stage(name, tmp / f"stage-{name}"))
            stages[name] = order[-1]
            continue
        stage = order[-1]
        if instruction == "WORKDIR":
            stage.workdir = value
            stage.host(value).mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            _do_copy(stage, value, stages)
        elif instruction == "RUN":
            _do_run(stage, value)
        elif instruction == "ENV":
            stage.env.update(_env(value))
        elif instruction == "USER":
            stage.user = value
        elif instruction == "HEALTHCHECK":
            stage.healthcheck = _exec_form(value[value.index("CMD") + 3 :].strip())
        elif instruction == "ENTRYPOINT":
            stage.entrypoint = _exec_form(value)
        elif instruction == "CMD":
            stage.cmd = _exec_form(value)
    return order, seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def own_database() -> str:
    name = f"{urlparse(PG_DSN).path.lstrip('/')}_docker"
    return asyncio.run(fresh_database(PG_DSN, name))


def test_compose_runs_redis_with_aof_and_migrates_before_serving() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert "--appendonly" in services["redis"]["command"]
    assert (
        services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1]
        == "yes"
    )
    assert services["migrate"]["command"] == ["migrate"]
    engine = services["engine"]
    assert engine["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert {"ATP_PG_DSN", "ATP_REDIS_URL"} <= set(engine["environment"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_image_files_migrate_and_serve(redis_url: str, tmp_path: Path) -> None:
    stages, seen = build(tmp_path)
    runtime = stages[-1]
    assert len(stages) >= 2, "multi-stage: the compiler and sources stay in the builder"
    assert runtime.user not in ("root", "0", ""), "the runtime runs as an unprivileged user"
    assert {"ATP_PG_DSN", "ATP_REDIS_URL", "ATP_STATE_DIR"} <= set(runtime.env)
    assert "HEALTHCHECK" in seen and runtime.healthcheck[0] == "python"
    assert not runtime.host("/src").exists(), "no source tree in the runtime image"
    python = runtime.host(f"{VENV}/bin/python")
    # The console script's interpreter is the virtualenv's, at the same path in both stages.
    script = runtime.host(f"{VENV}/bin/{runtime.entrypoint[0]}").read_text().splitlines()[0]
    assert script.startswith(f"#!{stages[0].host(VENV)}/bin/python")

    dsn = own_database()
    state = runtime.host(runtime.env["ATP_STATE_DIR"])
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ATP_", "PROMETHEUS_"))},
        **{k: v for k, v in runtime.env.items() if k != "PATH"},
        "ATP_PG_DSN": dsn,
        "ATP_REDIS_URL": redis_url,
        "ATP_HOST": "127.0.0.1",
        "ATP_PORT": str(port),
        "ATP_STATE_DIR": str(state),
    }
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    cwd = runtime.host(runtime.workdir)
    where = subprocess.run(
        [python, "-c", "import api, durability.migrate as m; print(api.__file__, m.migrations_dir())"],  # noqa: E501
        cwd=cwd, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.count(str(runtime.root)) == 2, f"not from the image's files: {where}"

    migrate = subprocess.run(
        [python, "-m", "cli.main", "migrate"], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "0001_catalog" in migrate.stdout

    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [python, "-m", "cli.main", *runtime.cmd],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        assert serve.wait_ready("127.0.0.1", port, 60), log.read_text()
        health = subprocess.run([python, *runtime.healthcheck[1:]], env=env, timeout=10)
        assert health.returncode == 0
        assert (state / f"prometheus-{port}").is_dir(), "the server writes into its state folder"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        children = [int(pid) for pid in _STARTED.findall(log.read_text())]
        for pid in [server.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        server.wait(timeout=10)
