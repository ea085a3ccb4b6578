"""What every simulated person shares: the day's clock (the engine's, accelerated), the
HTTP client with the retry rules a careful integrator follows, the log, the chain and the
seeded randomness."""

import asyncio
import datetime as dt
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from atp.clock import SimulatedClock
from simulation.chain import Chain
from simulation.config import DayConfig
from simulation.goods import Goods
from simulation.log import DayLog, Json

RETRIES_MAX: Final = 8  # 503 (with Retry-After), 429, a busy order: then it is an error
RETRY_WAIT_S_MAX: Final = 1.0  # real seconds; Retry-After is honoured up to this
BUSY_CODES: Final = frozenset({"order-busy", "order-retry", "request-in-flight"})


class Refused(Exception):
    """An answer the caller did not expect: status and problem type."""

    def __init__(self, status: int, problem: str, body: Any, call: str = "") -> None:
        detail = body.get("detail", "") if isinstance(body, dict) else ""
        super().__init__(f"{call}: {status} {problem} {detail}".strip(": "))
        self.status, self.problem, self.body = status, problem, body


@dataclass
class Sim:
    config: DayConfig
    chain: Chain
    clock: SimulatedClock
    http: httpx.AsyncClient
    log: DayLog = field(default_factory=DayLog)
    rng: random.Random = field(default_factory=random.Random)
    goods: Goods = field(default_factory=Goods)
    # (sku, store) -> the shoppers waiting to hear it is back
    subscribers: defaultdict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)  # errands that ended in an exception
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC)

    async def until(self, at: dt.datetime) -> None:
        """Sleeps until the simulated clock reads ``at``."""
        real_ms = self.clock.real_ms(int(at.timestamp() * 1000))
        delay = real_ms / 1000 - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def wait(self, minutes: float) -> None:
        await self.until(self.now() + dt.timedelta(minutes=minutes))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """A person's errand, run beside the others; the day waits for every one. One that
        fails is recorded (the report lists them), not left to vanish."""
        task = asyncio.create_task(self._guarded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # any errand's failure is reported
            self.failures.append(f"{type(exc).__name__}: {exc}")

    async def call(
        self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201)
    ) -> Json:
        """The answer's JSON; ``Refused`` for another status once retries are spent."""
        name = f"{method} {path.split('?')[0]}"
        for attempt in range(RETRIES_MAX):
            self.log.calls += 1
            reply = await self.http.request(method, path, json=body)
            if reply.status_code in ok:
                return reply.json() if reply.content else {}
            problem = _problem(reply)
            retry = reply.status_code in (429, 503) or problem in BUSY_CODES
            if not retry or attempt == RETRIES_MAX - 1:
                if reply.status_code >= 500:
                    self.log.error(f"{name} {reply.status_code}")
                raise Refused(reply.status_code, problem, _json(reply), name)
            after = float(reply.headers.get("Retry-After", "0.05") or 0.05)
            await asyncio.sleep(min(after, RETRY_WAIT_S_MAX))
        raise AssertionError("unreachable")


def _json(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return reply.text


def _problem(reply: httpx.Response) -> str:
    body = _json(reply)
    kind = body.get("type", "") if isinstance(body, dict) else ""
    return str(kind).rsplit("/", 1)[-1]
