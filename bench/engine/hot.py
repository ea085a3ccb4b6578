"""Hot-SKU contention: many reservers on one position holding few units. However the
reservers interleave, exactly the units on hand must be reserved and every other attempt
refused as insufficient; each round checks that against the position itself."""

import asyncio
import collections
import dataclasses
import gc
from array import array
from time import perf_counter_ns, process_time_ns

import msgspec

from atp.model import Channel
from bench.common.stats import NS_PER_S, NS_PER_US, Samples, Summary, percentile_ns, summarize
from bench.engine.closed_loop import next_number
from engine.local import Engine
from reservations.model import Line, ReserveResult

HOT_LOCATION = "HOT-DC"
HOT_UNITS = 100
HOT_RESERVERS = 64
HOT_ATTEMPTS_PER_RESERVER = 8  # 512 attempts for 100 units: most are refused
HOT_WARMUP_ROUNDS = 1
HOT_ROUNDS_MIN = 3
HOT_ROUNDS_MAX = 1_000


class HotSku(msgspec.Struct, frozen=True):
    rounds: int
    reservers: int
    attempts_per_reserver: int
    units_per_round: int
    attempts: int
    reserved: int  # successes, over all timed rounds
    refused: int  # insufficient
    other: int  # any other result: always a failure
    failures: list[str]
    overall: Summary
    # A success takes two round trips (the legs, then the header); a refusal one.
    reserved_latency_us_p50: float
    reserved_latency_us_p99: float
    refused_latency_us_p50: float
    refused_latency_us_p99: float

    @property
    def units_total(self) -> int:
        return self.rounds * self.units_per_round


@dataclasses.dataclass
class _Round:
    outcomes: collections.Counter[ReserveResult]
    reserved_ns: "array[int]"  # array is generic only from Python 3.12
    refused_ns: "array[int]"
    wall_ns: int
    cpu_ns: int
    failures: list[str]


async def _round(engine: Engine) -> _Round:
    sku = f"HOT-{next_number()}"
    await engine.stock.set_on_hand(sku, HOT_LOCATION, HOT_UNITS)
    line = [Line(sku, HOT_LOCATION, 1)]
    reserve = engine.reservations.reserve
    done = _Round(collections.Counter(), array("q"), array("q"), 0, 0, [])

    async def reserver() -> None:
        for _ in range(HOT_ATTEMPTS_PER_RESERVER):
            rid = f"hot-{next_number()}"
            started_ns = perf_counter_ns()
            outcome = await reserve(rid, Channel.online, line)
            elapsed_ns = perf_counter_ns() - started_ns
            done.outcomes[outcome.result] += 1
            ok = outcome.result is ReserveResult.reserved
            (done.reserved_ns if ok else done.refused_ns).append(elapsed_ns)

    started_ns, cpu_started_ns = perf_counter_ns(), process_time_ns()
    await asyncio.gather(*(reserver() for _ in range(HOT_RESERVERS)))
    done.wall_ns = perf_counter_ns() - started_ns
    done.cpu_ns = process_time_ns() - cpu_started_ns
    position = await engine.availability.position(sku, HOT_LOCATION)
    reserved = done.outcomes[ReserveResult.reserved]
    if not reserved == position.reserved == HOT_UNITS:
        done.failures.append(
            f"{sku}: {reserved} reservations succeeded, position reserves {position.reserved}, "
            f"units on hand {HOT_UNITS}"
        )
    return done


def _us(sorted_ns: list[int], q: float) -> float:
    return percentile_ns(sorted_ns, q) / NS_PER_US if sorted_ns else 0.0


async def hot_sku(engine: Engine, duration_s: float) -> HotSku:
    failures: list[str] = []
    for _ in range(HOT_WARMUP_ROUNDS):  # checked like the others, not timed
        failures += (await _round(engine)).failures
    gc.collect()
    gc.freeze()
    rounds: list[_Round] = []
    deadline_ns = perf_counter_ns() + int(duration_s * NS_PER_S)
    while len(rounds) < HOT_ROUNDS_MAX and (
        len(rounds) < HOT_ROUNDS_MIN or perf_counter_ns() < deadline_ns
    ):
        rounds.append(await _round(engine))
    outcomes: collections.Counter[ReserveResult] = collections.Counter()
    reserved_ns, refused_ns = array("q"), array("q")
    for r in rounds:
        outcomes.update(r.outcomes)
        reserved_ns.extend(r.reserved_ns)
        refused_ns.extend(r.refused_ns)
        failures += r.failures
    both = Samples(
        reserved_ns + refused_ns, sum(r.wall_ns for r in rounds), sum(r.cpu_ns for r in rounds)
    )
    reserved_sorted, refused_sorted = sorted(reserved_ns), sorted(refused_ns)
    reserved, refused = outcomes[ReserveResult.reserved], outcomes[ReserveResult.insufficient]
    return HotSku(
        rounds=len(rounds),
        reservers=HOT_RESERVERS,
        attempts_per_reserver=HOT_ATTEMPTS_PER_RESERVER,
        units_per_round=HOT_UNITS,
        attempts=len(both.latencies_ns),
        reserved=reserved,
        refused=refused,
        other=outcomes.total() - reserved - refused,
        failures=failures,
        overall=summarize(both),
        reserved_latency_us_p50=_us(reserved_sorted, 50),
        reserved_latency_us_p99=_us(reserved_sorted, 99),
        refused_latency_us_p50=_us(refused_sorted, 50),
        refused_latency_us_p99=_us(refused_sorted, 99),
    )
