"""HTTP benchmark: the API's routes beside a bare baseline app, 1 and 2 workers, one run.

``python -m bench.http [--quick] [--json FILE] [--locust]``

Each server is started by ``cli.supervisor`` (single-worker processes sharing the port with
SO_REUSEPORT) on 127.0.0.1:7320, loaded with wrk for a fixed time per route after a
warm-up, then stopped. The baseline (bench/baseline_app.py) runs the same stack with one
Redis HGET or one EVALSHA per request. Ratios within the run are the figures to compare
(stack-notes): wrk, the servers and Redis share the machine's cores.
"""

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path

import msgspec

from atp.limits import QTY_MAX
from bench._cli import admin_key, fresh_database, pg_dsn_option
from bench._machine import machine
from bench._stats import Figure, Target, target, update_markdown_section, write_json
from cli import supervisor as serve
from engine.local import Engine

REDIS_URL_DEFAULT = "redis://127.0.0.1:6379/13"
HOST, PORT, BASELINE_PORT = "127.0.0.1", 7320, 7321
OUT = Path(__file__).with_name("out")
RESULTS_MD = Path(__file__).with_name("RESULTS.md")
SKUS = [f"B-{i:03d}" for i in range(100)]
LOCATIONS = ["W1", "S1"]
# One-unit holds never run it short; receipts in the locust mix stay under QTY_MAX.
SEED_ON_HAND = QTY_MAX // 2
RESERVE_RATIO_MIN = 0.70
RESERVE_P99_MS_MAX = 10.0
BASELINE_P99_MS_FOR_TARGET = 5.0


class Run(msgspec.Struct, frozen=True):
    app: str  # api | baseline
    route: str
    workers: int
    connections: int
    requests_per_s: float
    latency_ms_p50: float
    latency_ms_p99: float
    errors: int  # non-2xx responses and socket errors
    worker_core_shares: list[float]  # CPU of each worker over the run: balance check


class Report(msgspec.Struct, frozen=True):
    started_at: str
    mode: str
    duration_s: float
    connections: int
    runs: list[Run]
    figures: list[Figure]
    targets: list[Target]
    machine: object
    locust: dict[str, object] | None = None


def _lua(method: str, path: str, key: str, body: str = "", unique_hold: bool = False) -> str:
    head = (
        f'wrk.method = "{method}"\nwrk.headers["Authorization"] = "Bearer {key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    if not unique_hold:
        return head + f'wrk.path = "{path}"\nwrk.body = [[{body}]]\n'
    nonce = secrets.token_hex(4)
    return head + (
        "local started = 0\n"
        "function setup(thread) started = started + 1; thread:set('tid', started) end\n"
        "local n = 0\n"
        "function request()\n  n = n + 1\n"
        '  local body = string.format(\'{"id":"w-%s-%d-%d","channel":"online","lines":'
        '[{"sku":"B-%03d","location":"W1","qty":1}]}\', '
        f"'{nonce}', tid, n, n % 100)\n"
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
    path = OUT / "wrk-script.lua"
    path.write_text(script)
    before, started = [_ticks(p) for p in pids], time.monotonic()
    threads = str(min(2, connections))
    command = ["wrk", "-t", threads, "-c", str(connections), "-d", f"{seconds:g}s", "--latency"]
    out = subprocess.run(
        [*command, "-s", str(path), f"http://{HOST}:{port}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
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


async def _seed(url: str, dsn: str) -> str:
    engine = Engine.connect(url)
    try:
        for sku in SKUS:
            for location in LOCATIONS:
                await engine.stock.set_on_hand(sku, location, SEED_ON_HAND, reason="bench")
        return await admin_key(dsn, "bench")
    finally:
        await engine.close()


def _api_routes(key: str) -> dict[str, str]:
    batch = msgspec.json.encode({"skus": SKUS[:20], "locations": LOCATIONS}).decode()
    return {
        "GET /v1/availability/{sku}": _lua(
            "GET", "/v1/availability/B-007?location=W1&location=S1", key
        ),
        "POST /v1/availability/query (20x2)": _lua("POST", "/v1/availability/query", key, batch),
        "POST /v1/reservations": _lua("POST", "/v1/reservations", key, unique_hold=True),
    }


def _baseline_routes(key: str) -> dict[str, str]:
    return {
        "GET /baseline/hget": _lua("GET", "/baseline/hget", key),
        "POST /baseline/evalsha": _lua("POST", "/baseline/evalsha", key, "{}"),
    }


Step = tuple[str, int, str, str, list[BaseProcess], int]  # kind, port, route, script, procs, conns


def _plan(
    key: str, api: list[BaseProcess], base: list[BaseProcess], c: int, low: int
) -> list[Step]:
    plan: list[Step] = [
        ("baseline", BASELINE_PORT, r, s, base, c) for r, s in _baseline_routes(key).items()
    ]
    plan += [("api", PORT, r, s, api, c) for r, s in _api_routes(key).items()]
    # The p99 target applies where the baseline's p99 is low: a lightly loaded pair too.
    evalsha, hold = "POST /baseline/evalsha", "POST /v1/reservations"
    plan.append(
        ("baseline", BASELINE_PORT, f"{evalsha} @{low}", _baseline_routes(key)[evalsha], base, low)
    )
    plan.append(("api", PORT, f"{hold} @{low}", _api_routes(key)[hold], api, low))
    return plan


def _measure(workers: int, key: str, args: argparse.Namespace) -> list[Run]:
    """Both servers up at once; routes interleaved round by round so drift in what else
    the machine runs hits the baseline and the API alike; the median round is reported."""
    api = serve.start(HOST, PORT, workers, "api.app:serve_app")
    baseline = serve.start(HOST, BASELINE_PORT, workers, "bench.baseline_app:create")
    plan = _plan(key, api, baseline, args.connections, args.low_connections)
    samples: dict[str, list[Measure]] = {step[2]: [] for step in plan}
    try:
        if not (serve.wait_ready(HOST, PORT) and serve.wait_ready(HOST, BASELINE_PORT)):
            raise SystemExit("a server did not start")
        for _kind, port, _route, script, processes, conns in plan:  # warm each route once
            wrk(script, port, args.warmup_s, conns, _pids(processes))
        for _ in range(args.rounds):
            for _kind, port, route, script, processes, conns in plan:
                samples[route].append(wrk(script, port, args.duration_s, conns, _pids(processes)))
    finally:
        serve.stop(api)
        serve.stop(baseline)
    runs = []
    for kind, _, route, _, _, conns in plan:
        ordered = sorted(samples[route], key=lambda m: m.rps)
        m = ordered[len(ordered) // 2]
        errors = sum(x.errors for x in samples[route])
        runs.append(Run(kind, route, workers, conns, m.rps, m.p50, m.p99, errors, m.shares))
        rates = ", ".join(f"{x.rps:.0f}" for x in samples[route])
        print(
            f"  {kind:8} w={workers} c={conns:<3} {route:40} {m.rps:>8.0f}/s (rounds {rates})"
            f"  p50 {m.p50:.2f} ms  p99 {m.p99:.2f} ms  errors {errors}  cpu {m.shares}",
            flush=True,
        )
    return runs


def _pids(processes: list[BaseProcess]) -> list[int]:
    return [p.pid for p in processes if p.pid is not None]


def _locust(key: str, workers: int, seconds: float) -> dict[str, object]:
    """The realistic mix (bench/locustfile.py), headless, CSV in bench/out/."""
    processes = serve.start(HOST, PORT, workers)
    prefix = OUT / f"locust-w{workers}"
    try:
        if not serve.wait_ready(HOST, PORT):
            raise SystemExit("api did not start")
        env = {**os.environ, "ATP_BENCH_KEY": key}
        locust = str(Path(sys.executable).with_name("locust"))
        subprocess.run(
            [
                locust,
                "-f",
                str(Path(__file__).with_name("locustfile.py")),
                "--headless",
                "-u",
                "50",
                "-r",
                "50",
                "-t",
                f"{int(seconds)}s",
                "--host",
                f"http://{HOST}:{PORT}",
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        serve.stop(processes)
    rows: dict[str, object] = {}
    lines = Path(f"{prefix}_stats.csv").read_text().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        cells = dict(zip(header, line.split(","), strict=False))
        rows[f"{cells['Type']} {cells['Name']}".strip()] = {
            "requests": int(cells["Request Count"]),
            "failures": int(cells["Failure Count"]),
            "requests_per_s": round(float(cells["Requests/s"]), 1),
            "latency_ms_p50": float(cells["50%"] or 0),
            "latency_ms_p99": float(cells["99%"] or 0),
        }
    return {
        "workers": workers,
        "users": 50,
        "seconds": seconds,
        "csv": f"{prefix}_stats.csv",
        "rows": rows,
    }


def _figures(runs: list[Run], low: int) -> tuple[list[Figure], list[Target]]:
    figures, targets = [], []
    for workers in sorted({r.workers for r in runs}):
        by = {r.route: r for r in runs if r.workers == workers}
        for r in by.values():
            base_route = "POST /baseline/evalsha" + (
                f" @{low}" if r.route.endswith(f"@{low}") else ""
            )
            base = by[base_route]
            ratio = round(r.requests_per_s / base.requests_per_s, 3)
            name = f"w{workers} {r.route}"
            figures.append(
                Figure(
                    f"{name} requests/s",
                    round(r.requests_per_s),
                    "req/s",
                    ratio,
                    f"w{workers} {base_route}",
                )
            )
            figures.append(Figure(f"{name} p99", r.latency_ms_p99, "ms"))
        base, hold = by["POST /baseline/evalsha"], by["POST /v1/reservations"]
        ratio = round(hold.requests_per_s / base.requests_per_s, 3)
        targets.append(
            target(
                f"w{workers} reservations / EVALSHA baseline requests/s",
                ratio,
                RESERVE_RATIO_MIN,
                "ratio",
                "at_least",
            )
        )
        for suffix in ("", f" @{low}"):
            base, hold = by[f"POST /baseline/evalsha{suffix}"], by[f"POST /v1/reservations{suffix}"]
            if base.latency_ms_p99 < BASELINE_P99_MS_FOR_TARGET:
                name = f"w{workers} reservations p99 at {hold.connections} connections"
                name += f" (baseline p99 {base.latency_ms_p99} ms)"
                targets.append(
                    target(name, hold.latency_ms_p99, RESERVE_P99_MS_MAX, "ms", "at_most")
                )
    return figures, targets


def _markdown(report: Report) -> str:
    lines = [
        f"Run {report.started_at}, mode {report.mode}: wrk {report.connections} connections, "
        f"{report.duration_s:g} s per route per round, median of the rounds after a warm-up; "
        "API and baseline servers up together, routes interleaved; servers via `cli.supervisor` "
        "(single-worker processes, SO_REUSEPORT); auth on, rate limit off; Redis db 13.",
        "",
        "| app | workers | conns | route | req/s | x EVALSHA | p50 ms | p99 ms | errors | CPU |",
        "|---|--:|--:|---|--:|--:|--:|--:|--:|---|",
    ]
    ratios = {
        f.name.removesuffix(" requests/s"): f.ratio_to_baseline
        for f in report.figures
        if f.ratio_to_baseline is not None
    }
    for r in report.runs:
        ratio = ratios.get(f"w{r.workers} {r.route}") or 0.0
        cells = [r.app, str(r.workers), str(r.connections), f"`{r.route}`"]
        cells += [f"{r.requests_per_s:,.0f}", f"{ratio:.2f}"]
        cells += [f"{r.latency_ms_p50:.2f}", f"{r.latency_ms_p99:.2f}", str(r.errors)]
        lines.append("| " + " | ".join([*cells, str(r.worker_core_shares)]) + " |")
    lines += ["", "| target | measured | limit | met |", "|---|--:|--:|---|"]
    for t in report.targets:
        met = "yes" if t.met else "NO"
        lines.append(f"| {t.name} | {t.measured} | {t.bound} {t.limit} {t.unit} | {met} |")
    if report.locust:
        loc = report.locust
        lines += [
            "",
            f"Locust mix (bench/locustfile.py): {loc['users']} users, {loc['seconds']} s, "
            f"{loc['workers']} workers, CSV `{loc['csv']}`:",
            "",
            "| request | count | failures | req/s | p50 ms | p99 ms |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for name, row in loc["rows"].items():  # type: ignore[attr-defined]
            cells = [name, row["requests"], row["failures"], row["requests_per_s"]]
            cells += [row["latency_ms_p50"], row["latency_ms_p99"]]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per route (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--locust", action="store_true", help="also run the locust mix")
    parser.add_argument("--redis-url", default=os.environ.get("ATP_REDIS_URL", REDIS_URL_DEFAULT))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--low-connections", type=int, default=2, help="the p99 probe")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-markdown", action="store_true")
    pg_dsn_option(parser)
    args = parser.parse_args(argv)
    args.duration_s, args.warmup_s, args.rounds = (3.0, 1.0, 1) if args.quick else (6.0, 2.0, 3)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    os.environ.update({"ATP_REDIS_URL": args.redis_url, "ATP_RATE_LIMIT_PER_S": "0"})
    os.environ["ATP_PG_DSN"] = args.pg_dsn
    asyncio.run(fresh_database(args.pg_dsn))
    key = asyncio.run(_seed(args.redis_url, args.pg_dsn))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    runs: list[Run] = []
    for workers in (int(w) for w in args.workers.split(",")):
        runs += _measure(workers, key, args)
    locust = _locust(key, 2, 10 if args.quick else 30) if args.locust else None
    figures, targets = _figures(runs, args.low_connections)
    report = Report(
        started,
        ("quick" if args.quick else "full")
        + (", durable" if args.pg_dsn else ", Redis-acknowledged"),
        args.duration_s,
        args.connections,
        runs,
        figures,
        targets,
        machine(
            "7.0", ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "msgspec", "hiredis")
        ),
        locust,
    )
    if args.json:
        write_json(args.json, report)
    if not args.no_markdown:
        update_markdown_section(
            RESULTS_MD, f"HTTP API ({report.mode})", _markdown(report), "# Benchmark results\n"
        )
    for t in targets:
        print(f"{t.name}: {t.measured} ({t.bound} {t.limit}) {'met' if t.met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
