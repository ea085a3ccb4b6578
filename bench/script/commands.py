"""The commands the engine sends, captured from its own functions.

A ``Recorder`` stands in for the transport: the coordinator and reservations/calls.py build
their keys and arguments as they do for Redis, the recorder keeps the EVALSHA it is given
(with the actor's two ARGV, as ``atp.redis_io.script_args`` appends them) and answers none,
so no reply decoding runs. The benchmark therefore follows a script's keys and arguments
when they change; only the order of calls (commit: header then legs; release: legs then
header) is the coordinator's, restated here.
"""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from atp import actor, keys
from atp.limits import EVENT_STREAM_MAXLEN, LEDGER_PARTITIONS
from atp.redis_io import Arg, RedisIO, ScriptCall, script_args
from atp.scripts import Script
from reservations import calls
from reservations.coordinator import Reservations
from reservations.model import Line, lines_by_partition
from reservations.settle import decide_settle

Command = tuple[Arg, ...]
LOCATION = "W1"
TTL_S = 900
READ_CONCURRENCY = 500  # reads in flight while a release's targets are decided
ACTOR = "k-bench"  # an API key id: the actor every HTTP write carries (atp/actor.py)
MINIMAL = Script("minimal_reserve", (Path(__file__).parent / "minimal_reserve.lua").read_text())


class Captured(Exception):
    """Raised by the recorder once it has the call: the caller stops there."""


class Recorder:
    cross_slot_scripts = True  # a single Redis: reserve_atomic, as the API server runs

    def __init__(self) -> None:
        self.calls: list[Command] = []

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        sent = script_args(script, args)
        self.calls.append(("EVALSHA", script.sha, len(keys), *keys, *sent))
        raise Captured

    async def run_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        raise NotImplementedError

    async def command(self, *args: Arg) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        return None


async def _capture(recorder: Recorder, call: Callable[[], Awaitable[object]]) -> Command:
    with actor.acting(ACTOR), contextlib.suppress(Captured):
        await call()
    return recorder.calls.pop()


def skus_apart(count: int) -> list[str]:
    """SKUs in ``count`` distinct partitions."""
    found: dict[int, str] = {}
    for i in range(10 * LEDGER_PARTITIONS):
        sku = f"S-{i:04d}"
        found.setdefault(keys.partition_of_sku(sku), sku)
        if len(found) == count:
            return list(found.values())
    raise AssertionError("not enough partitions")


def skus_together(count: int) -> list[str]:
    """SKUs sharing one partition (one leg)."""
    by_partition: dict[int, list[str]] = {}
    for i in range(100 * LEDGER_PARTITIONS):
        sku = f"T-{i:04d}"
        group = by_partition.setdefault(keys.partition_of_sku(sku), [])
        group.append(sku)
        if len(group) == count:
            return group
    raise AssertionError("no partition got enough SKUs")


async def holds(rids: Sequence[str], skus: Sequence[str]) -> list[list[Command]]:
    """One reserve_atomic per id, built by ``Reservations.reserve`` (validation, sorting,
    digest, legs by partition, keys and arguments as the API server's)."""
    recorder = Recorder()
    service = Reservations(recorder)
    lines = [Line(sku, LOCATION, 1) for sku in skus]
    reserve = functools.partial(service.reserve, channel="online", lines=lines, ttl_s=TTL_S)
    return [[await _capture(recorder, functools.partial(reserve, rid))] for rid in rids]


async def commits(rids: Sequence[str], skus: Sequence[str]) -> list[list[Command]]:
    """header_commit then one leg_commit per leg (``Reservations.commit``'s order)."""
    recorder = Recorder()
    legs = lines_by_partition([Line(sku, LOCATION, 1) for sku in skus])
    found = []
    for rid in rids:
        sent = [await _capture(recorder, functools.partial(calls.header_commit, recorder, rid, 0))]
        for p in legs:
            leg = functools.partial(calls.leg_commit, recorder, rid, p, 0)
            sent.append(await _capture(recorder, leg))
        found.append(sent)
    return found


async def releases(redis: RedisIO, rids: Sequence[str]) -> list[list[Command]]:
    """A whole release as ``reservations.settle.settle`` makes it: the targets decided from
    the stored header and legs, one leg_settle per leg, then header_close."""
    reader, recorder = Reservations(redis), Recorder()
    stored = []
    for start in range(0, len(rids), READ_CONCURRENCY):
        chunk = rids[start : start + READ_CONCURRENCY]
        stored += await asyncio.gather(*(reader.read(rid) for rid in chunk))
    found = []
    for rid, (header, legs) in zip(rids, stored, strict=True):
        refused, targets, digest = decide_settle(rid, header, legs, "released", None, "")
        assert refused is None, refused
        committed = header["st"] == "committed"
        sent = []
        for p, ts in targets.items():
            settle = functools.partial(
                calls.leg_settle, recorder, rid, p, "released", committed, ts, "", digest, 0
            )
            sent.append(await _capture(recorder, settle))
        close = functools.partial(calls.header_close, recorder, rid, "released", 0)
        sent.append(await _capture(recorder, close))
        found.append(sent)
    return found


def minimal_holds(rids: Sequence[str], skus: Sequence[str]) -> list[list[Command]]:
    """The yardstick (minimal_reserve.lua) on the same positions, in the id's partition."""
    found = []
    for rid in rids:
        home = keys.partition_of_reservation(rid)
        script_keys = [keys.header(rid), keys.stream(home), keys.expiry_index(home)]
        script_keys += [keys.position(sku, LOCATION) for sku in skus]
        args: list[Arg] = [rid, TTL_S * 1000, EVENT_STREAM_MAXLEN, *([1] * len(skus))]
        found.append([("EVALSHA", MINIMAL.sha, len(script_keys), *script_keys, *args)])
    return found


def scripts_used() -> list[Script]:
    """Every script the commands above name, for SCRIPT LOAD (api/health.py does the same
    for the engine's at start)."""
    from api.health import engine_scripts

    return [*engine_scripts(), MINIMAL]
