"""Redis time per call of the reservation scripts, beside a minimal hold script.

``python -m bench.script [--quick] [--json FILE] [--markdown | --no-markdown]``

On a private redis-server (no persistence): reserve_atomic with 1 line, 3 lines in 3
partitions and 3 lines in one partition, a commit, a release, and bench/script's
minimal_reserve.lua (3 lines), each driven by concurrent ``redis-cli --pipe`` clients with
commands built by the engine's own functions (bench/script/commands.py); Redis's own
accounting gives the time (bench/script/pipes.py). Then what one ``redis.call`` costs (a
Lua loop of HGETs, HMGETs, HSETs) and one event's XADD with the real event's fields and
with 8 (bench/script/probes.py). A full run writes its bench/RESULTS.md section.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import redis

from atp import keys
from atp.limits import QTY_MAX
from bench.common.machine import cpu_snapshot, cpu_use, load_average, machine
from bench.common.results import OUT, RESULTS_MD, update_markdown_section, write_json
from bench.script import commands as c
from bench.script.pipes import Phase, admin, run_phase, write_files
from bench.script.probes import PRELUDED, PROBE, Probe, event_fields, probe, probe_commands
from bench.script.report import MINIMAL, RESERVE_3, Report, row, targets, with_ratios
from bench.script.report import markdown as render
from bench.script.server import PrivateRedis
from engine.local import Engine

TITLE = "Reservation scripts: Redis time per call (python -m bench.script)"
HOLD_1 = "reserve_atomic 1 line"
HOLD_3_TOGETHER = "reserve_atomic 3 lines, 1 partition"
COMMIT = "commit 1 line: header_commit + leg_commit"
RELEASE = "release 3 lines, 3 partitions: leg_settle x 3 + header_close"
PER_OPERATION = {HOLD_1: 1, RESERVE_3: 1, HOLD_3_TOGETHER: 1, MINIMAL: 1, COMMIT: 2, RELEASE: 4}
Groups = list[list[c.Command]]


async def _seed(url: str, skus: Sequence[str]) -> None:
    engine = Engine.connect(url)
    try:
        for sku in skus:
            await engine.stock.set_on_hand(sku, c.LOCATION, QTY_MAX // 2, reason="bench")
    finally:
        await engine.close()


async def _releases(url: str, rids: Sequence[str]) -> Groups:
    engine = Engine.connect(url)
    try:
        return await c.releases(engine.redis, rids)
    finally:
        await engine.close()


def _reserved(client: redis.Redis, skus: Sequence[str]) -> list[int]:
    return [int(client.hget(keys.position(s, c.LOCATION), "rs") or 0) for s in skus]


def _phase(server: PrivateRedis, groups: Groups, clients: int) -> Phase:
    directory = OUT / f"script-{os.getpid()}"
    try:
        phase = run_phase(server, write_files(groups, clients, server.db, directory))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if phase.errors:
        raise SystemExit(f"{phase.errors} error replies: a script failed")
    return phase


def _checked(
    server: PrivateRedis, groups: Groups, clients: int, skus: Sequence[str], delta: int
) -> Phase:
    """The phase, and a check that every operation moved the positions' reserved units."""
    client = admin(server)
    before = _reserved(client, skus)
    phase = _phase(server, groups, clients)
    after = _reserved(client, skus)
    assert [a - b for a, b in zip(after, before, strict=True)] == [delta] * len(skus), (
        f"reserved {before} -> {after}, expected {delta} more each"
    )
    return phase


def _scripts(server: PrivateRedis, n: int, clients: int, tag: str) -> dict[str, Phase]:
    apart, together = c.skus_apart(3), c.skus_together(3)
    ids = {name: [f"b{tag}-{i}-{j}" for j in range(n)] for i, name in enumerate(PER_OPERATION)}

    def holds(name: str, skus: list[str]) -> Groups:
        return asyncio.run(c.holds(ids[name], skus))

    found = {
        HOLD_1: _checked(server, holds(HOLD_1, apart[:1]), clients, apart[:1], n),
        RESERVE_3: _checked(server, holds(RESERVE_3, apart), clients, apart, n),
        HOLD_3_TOGETHER: _checked(server, holds(HOLD_3_TOGETHER, together), clients, together, n),
    }
    minimal = c.minimal_holds(ids[MINIMAL], apart)
    found[MINIMAL] = _checked(server, minimal, clients, apart, n)
    found[COMMIT] = _phase(server, asyncio.run(c.commits(ids[HOLD_1], apart[:1])), clients)
    release = asyncio.run(_releases(server.url, ids[RESERVE_3]))
    found[RELEASE] = _checked(server, release, clients, apart, -n)
    return found


def _probes(server: PrivateRedis, calls: int, clients: int) -> list[Probe]:
    client = admin(server)
    client.script_load(PROBE.source)
    client.script_load(PRELUDED.source)
    stream = keys.stream(keys.partition_of_sku(c.skus_apart(1)[0]))
    entries = cast(list[tuple[str, dict[str, str]]], client.xrange(stream))
    full, compact = event_fields(next(f for _, f in entries if f.get("t") == "reserved"))

    def run(op: str, n: int, fields: Sequence[str] = ()) -> Phase:
        return _phase(server, probe_commands(op, n, fields, calls), clients)

    empty = run("none", 100)
    preluded = _phase(server, probe_commands("none", 100, (), calls, PRELUDED), clients)
    found = [
        Probe("empty loop: an EVALSHA's fixed cost (us per call)", 0,
              round(empty.usec_per_script, 2), 0.0, round(empty.scripts_per_s)),
        Probe("the shared preludes, defined on every call (us per call)", 0,
              round(preluded.usec_per_script - empty.usec_per_script, 2), 0.0,
              round(preluded.scripts_per_s)),
        probe("HGET 1 field", "hget", 100, run("hget", 100), empty),
        probe("HMGET 4 fields (read_position)", "hmget", 100, run("hmget4", 100), empty),
        probe("HSET 4 fields (write_position)", "hset", 100, run("hset4", 100), empty),
    ]  # fmt: skip
    for label, fields in ((f"the event's {len(full) // 2}", full), ("8", compact)):
        xadd = run("xadd", 20, fields)
        found.append(
            probe(f"XADD MAXLEN ~, {label} fields", "xadd", 20, xadd, run("none", 20, fields))
        )
    return found


def _median_probes(rounds: list[list[Probe]]) -> list[Probe]:
    def mid(values: Callable[[Probe], float], i: int) -> float:
        return round(statistics.median(values(r[i]) for r in rounds), 3)

    return [
        Probe(p.name, p.per_script, mid(lambda x: x.usec_per_command, i),
              mid(lambda x: x.inner_usec_per_command, i), mid(lambda x: x.scripts_per_s, i))
        for i, p in enumerate(rounds[0])
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.script", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round of 5,000 (smoke)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--calls", type=int, help="operations per phase (30,000; quick 5,000)")
    parser.add_argument("--rounds", type=int, help="rounds, median reported (3; quick 1)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent redis-cli clients")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--markdown", action="store_true", help="write RESULTS.md on --quick")
    group.add_argument("--no-markdown", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args(argv)
    calls = args.calls or (5_000 if args.quick else 30_000)
    rounds = args.rounds or (1 if args.quick else 3)
    if shutil.which("redis-cli") is None:
        raise SystemExit("redis-cli is needed (apt-get install redis-tools)")
    started, started_s = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
    load_start, before = load_average(), cpu_snapshot()
    server = PrivateRedis(db=11)
    phases: dict[str, list[Phase]] = {name: [] for name in PER_OPERATION}
    probes: list[list[Probe]] = []
    try:
        for i in range(rounds):
            admin(server).flushdb()
            apart, together = c.skus_apart(3), c.skus_together(3)
            asyncio.run(_seed(server.url, [*apart, *together, "PROBE"]))
            for script in c.scripts_used():
                admin(server).script_load(script.source)
            for name, phase in _scripts(server, calls, args.clients, f"{i}").items():
                phases[name].append(phase)
                print(f"  round {i + 1}: {name:62} {phase.usec_per_script:7.1f} us/call "
                      f"{phase.scripts_per_s:9,.0f} calls/s", flush=True)  # fmt: skip
            probes.append(_probes(server, max(calls // 5, 1_000), args.clients))
        cpu = cpu_use(before, cpu_snapshot(), server.pid)
    finally:
        server.stop()
    rows = with_ratios([row(name, PER_OPERATION[name], ps) for name, ps in phases.items()])
    report = Report(
        started_at=started,
        command="python -m bench.script" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        mode="quick" if args.quick else "full",
        seconds=round(time.monotonic() - started_s, 1),
        calls=calls,
        clients=args.clients,
        rounds=rounds,
        redis_server=server.version.split(" sha=")[0],
        rows=rows,
        probes=_median_probes(probes),
        targets=targets(rows),
        machine=machine(server.version.split(" sha=")[0], ("redis", "hiredis", "msgspec")),
        cpu=cpu,
        load_start=load_start,
        load_end=load_average(),
    )
    for r in report.rows:
        print(
            f"{r.name:62} {r.usec_per_script:7.1f} us/call x{r.x_minimal:.2f} "
            f"{r.inner_calls_per_script:g} redis.calls {r.operations_per_s:,.0f} ops/s"
        )
    for p in report.probes:
        print(f"{p.name:62} {p.usec_per_command:7.3f} us")
    if args.json:
        write_json(args.json, report)
    if (args.markdown or not args.quick) and not args.no_markdown:
        update_markdown_section(RESULTS_MD, TITLE, render(report), "# Benchmark results\n")
    for t in report.targets:
        print(f"{t.name}: {t.measured} ({t.bound} {t.limit}) {'met' if t.met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
