"""wrk against a server: the request script (Lua), one timed run, its requests/s, latency
percentiles, errors and the server processes' CPU. Shared by the HTTP benchmarks."""

import os
import re
import subprocess
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

import msgspec

from bench.common.results import OUT

HOST = "127.0.0.1"


def lua(method: str, path: str, key: str, body: str = "", unique_hold: bool = False) -> str:
    head = (
        f'wrk.method = "{method}"\nwrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    if not unique_hold:
        return head + f'wrk.path = "{path}"\nwrk.body = [[{body}]]\n'
    # Each wrk run draws its own nonce (a script is reused for warm-up and every round:
    # ids fixed here would make later runs replay holds that exist, the already_exists path).
    return head + (
        "local started = 0\n"
        "local function nonce()\n"
        "  local f = io.open('/dev/urandom', 'rb'); local b = f:read(6); f:close()\n"
        "  return (b:gsub('.', function(c) return string.format('%02x', c:byte()) end))\n"
        "end\n"
        "function setup(thread)\n"
        "  started = started + 1; thread:set('tid', nonce() .. '-' .. started)\nend\n"
        "local n = 0\n"
        "function request()\n  n = n + 1\n"
        '  local body = string.format(\'{"id":"w-%s-%d","channel":"online","lines":\'\n'
        '    .. \'[{"sku":"B-%03d","location":"W1","qty":1}]}\', tid, n, n % 100)\n'
        f"  return wrk.format(nil, '{path}', nil, body)\nend\n"
    )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Measure(msgspec.Struct, frozen=True):
    rps: float
    p50: float
    p99: float
    errors: int
    shares: list[float]


def wrk(script: str, port: int, seconds: float, connections: int, pids: list[int]) -> Measure:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"wrk-script-{os.getpid()}.lua"  # benchmarks may run side by side
    path.write_text(script)
    before, started = [_ticks(p) for p in pids], time.monotonic()
    threads = str(min(2, connections))
    command = ["wrk", "-t", threads, "-c", str(connections), "-d", f"{seconds:g}s", "--latency"]
    try:
        out = subprocess.run(
            [*command, "-s", str(path), f"http://{HOST}:{port}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        path.unlink(missing_ok=True)
    wall = time.monotonic() - started
    shares = [
        round((_ticks(p) - b) / os.sysconf("SC_CLK_TCK") / wall, 2)
        for p, b in zip(pids, before, strict=True)
    ]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return Measure(rps, p50, p99, errors, shares)


def pids(processes: list[BaseProcess]) -> list[int]:
    return [p.pid for p in processes if p.pid is not None]
