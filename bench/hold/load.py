"""One timed wrk run against a server, with the worker's CPU read from /proc before and after,
Redis's command counts (the private server), and optionally py-spy sampling the worker."""

import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import msgspec

from bench.common.results import OUT
from bench.common.wrk import lua
from bench.hold import profile
from bench.hold.servers import HOST
from bench.script.pipes import NOT_INNER, admin
from bench.script.server import PrivateRedis

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
PROFILE_LEAD_S = 0.5  # py-spy starts once wrk's connections are open
PROFILE_TAIL_S = 1.0  # and stops before wrk does


class Pass(msgspec.Struct, frozen=True):
    requests: int
    requests_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    errors: int  # non-2xx and socket errors
    worker_cpu_us_per_request: float  # user + system, /proc/PID/stat
    worker_system_share: float  # system time / (user + system)
    worker_core_share: float
    redis_cpu_us_per_request: float
    redis_commands_per_request: dict[str, float]  # commandstats, scripts' inner calls too


def hold(key: str, idempotency_key: bool = False) -> str:
    """A 1-line hold with a unique id per request, and optionally a unique Idempotency-Key.
    A fresh nonce per call: a script reused across runs would replay earlier ids."""
    if not idempotency_key:
        return lua("POST", "/v1/reservations", key, unique_hold=True)
    nonce = secrets.token_hex(4)
    script = lua("POST", "/v1/reservations", key, unique_hold=True)
    assert "  return wrk.format(nil, '/v1/reservations', nil, body)" in script
    return script.replace(
        "  return wrk.format(nil, '/v1/reservations', nil, body)",
        # wrk.format takes the headers given instead of wrk.headers (auth, Host): copy them.
        "  local headers = {}\n  for k, v in pairs(wrk.headers) do headers[k] = v end\n"
        f"  headers['Idempotency-Key'] = string.format('k-{nonce}-%s-%d', tid, n)\n"
        "  return wrk.format(nil, '/v1/reservations', headers, body)",
    )


def _ticks(pid: int) -> tuple[int, int]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def _parse(out: str) -> tuple[int, float, float, float, int]:
    requests = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50, p99 = re.search(r"\s50%\s+(\S+)", out), re.search(r"\s99%\s+(\S+)", out)
    if not (requests and rate and p50 and p99):
        raise SystemExit(f"wrk said:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return (
        int(requests.group(1)),
        float(rate.group(1)),
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        errors,
    )


def run(
    script: str,
    port: int,
    seconds: float,
    connections: int,
    worker: int,
    redis: PrivateRedis,
    sample: tuple[Path, int] | None = None,
) -> Pass:
    """``sample``: (py-spy raw output, rate in Hz) to sample the worker meanwhile."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"hold-wrk-{os.getpid()}.lua"
    path.write_text(script)
    client = admin(redis)
    client.config_resetstat()
    user, system = _ticks(worker)
    redis_before, started = sum(_ticks(redis.pid)), time.monotonic()
    command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections)]
    command += ["-d", f"{seconds:g}s", "--latency", "-s", str(path), f"http://{HOST}:{port}"]
    load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    spy = None
    try:
        if sample is not None:
            time.sleep(PROFILE_LEAD_S)
            duration = max(1, int(seconds - PROFILE_LEAD_S - PROFILE_TAIL_S))
            spy = profile.start(worker, duration, sample[1], sample[0])
        out, _ = load.communicate(timeout=seconds + 60)
    finally:
        if load.poll() is None:
            load.kill()
        if spy is not None:
            profile.finish(spy)
        path.unlink(missing_ok=True)
    wall = time.monotonic() - started
    user_after, system_after = _ticks(worker)
    redis_ticks = sum(_ticks(redis.pid)) - redis_before
    stats = client.info("commandstats")
    client.close()
    requests, rate, p50, p99, errors = _parse(out)
    used = (user_after - user) + (system_after - system)
    per_request = {
        name.removeprefix("cmdstat_"): round(int(s["calls"]) / requests, 3)
        for name, s in stats.items()
        if name.removeprefix("cmdstat_") not in NOT_INNER - {"evalsha"}
    }
    return Pass(
        requests=requests,
        requests_per_s=rate,
        latency_ms_p50=p50,
        latency_ms_p99=p99,
        errors=errors,
        worker_cpu_us_per_request=round(used / _TICKS_PER_S * 1e6 / requests, 1),
        worker_system_share=round((system_after - system) / max(used, 1), 3),
        worker_core_share=round(used / _TICKS_PER_S / wall, 3),
        redis_cpu_us_per_request=round(redis_ticks / _TICKS_PER_S * 1e6 / requests, 1),
        redis_commands_per_request=dict(sorted(per_request.items(), key=lambda kv: -kv[1])),
    )
