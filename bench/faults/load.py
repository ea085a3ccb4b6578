"""What the fault run sends and what it keeps of the answers: every write is retried with
the same ids until acknowledged, and every acknowledged effect is added up (``Tally``) so
the checks afterwards can find one lost or applied twice.

An answer the run counts against the engine: a 5xx other than 503 with ``Retry-After``, a
401 (every key is valid all along; keys live in PostgreSQL, so losing Redis must not
forget them).
"""

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

SKUS = [f"FL-{i}" for i in range(8)]
WAREHOUSE, STORE = "W1", "S1"
SEED = 1_000_000  # per position: no hold is short, no sale oversells
DEVICES = ("till-1", "till-2")
RETRY_SLEEP_S = 0.1
FAILURES_KEPT_MAX = 200  # the first ones are enough to see what went wrong
ANSWER_CHARS_MAX = 300
# 409s that mean "not yet, send it again" (each also carries Retry-After but the first).
RETRY_PROBLEMS = ("request-in-flight", "order-busy", "order-retry")


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    key: str
    body: Any = None
    idempotency_key: str | None = None


@dataclass
class Tally:
    """What the server acknowledged, and every answer counted against it."""

    keys: dict[str, str]
    delta: Counter[tuple[str, str]] = field(default_factory=Counter)  # on hand
    reserved: Counter[tuple[str, str]] = field(default_factory=Counter)  # left open at the end
    writes: list[Write] = field(default_factory=list)
    finished: dict[str, str] = field(default_factory=dict)  # reservation -> final state
    orders: dict[str, str] = field(default_factory=dict)  # order -> state acknowledged
    # A reservation whose step ended refused after retries (the first try may have been
    # applied): -> (the state that step leads to, the answer). Settled by reading it after.
    unsettled: dict[str, tuple[str, str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    bad_5xx: list[str] = field(default_factory=list)  # 5xx but 503 with Retry-After
    unauthorized: list[str] = field(default_factory=list)  # 401s, with when
    failures: list[str] = field(default_factory=list)
    reads: int = 0
    retries: int = 0
    deadline: float = float("inf")  # last moment a retry is allowed
    redis_losses: int = 0
    timeline: list[tuple[float, str]] = field(default_factory=list)  # faults
    t0: float = field(default_factory=time.monotonic)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, what: str) -> None:
        self.timeline.append((round(time.monotonic() - self.t0, 2), what))

    def fail(self, what: str) -> None:
        if len(self.failures) < FAILURES_KEPT_MAX:
            self.failures.append(what)


def problem_type(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("type", ""))
    return ""


def judge(tally: Tally, response: httpx.Response, what: str) -> None:
    """Counts the answer, and those the targets say must never come."""
    status = response.status_code
    tally.statuses[status] += 1
    if status >= 500 and not (status == 503 and "retry-after" in response.headers):
        tally.bad_5xx.append(f"{status} for {what}: {response.text[:ANSWER_CHARS_MAX]}")
    elif status == 401:
        losses = f"after {tally.redis_losses} Redis losses"
        tally.unauthorized.append(f"{what} {losses}: {response.text[:ANSWER_CHARS_MAX]}")


def _retried(response: httpx.Response) -> bool:
    if response.status_code >= 500:
        return True
    return response.status_code == 409 and problem_type(response).endswith(RETRY_PROBLEMS)


async def send(client: httpx.AsyncClient, tally: Tally, w: Write) -> httpx.Response:
    """The write until acknowledged: a 5xx, a 409 asking for a retry, a dropped connection
    or a timeout is sent again with the same ids and Idempotency-Key."""
    headers = {"Authorization": f"Bearer {w.key}"}
    if w.idempotency_key is not None:
        headers["Idempotency-Key"] = w.idempotency_key
    while True:
        try:
            response = await client.request(w.method, w.path, json=w.body, headers=headers)
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        else:
            judge(tally, response, f"{w.method} {w.path}")
            if not _retried(response):
                return response
            outcome = f"{response.status_code} {response.text[:ANSWER_CHARS_MAX]}"
        if time.monotonic() > tally.deadline:
            raise AssertionError(f"never acknowledged: {w} (last: {outcome})")
        tally.retries += 1
        await asyncio.sleep(RETRY_SLEEP_S)


def acknowledged(
    tally: Tally, response: httpx.Response, w: Write, *ok: int, step_of: tuple[str, str] = ("", "")
) -> bool:
    """Whether the answer acknowledges ``w``; if not and ``step_of`` names a reservation
    and the state the step leads to, it is left to be settled by reading it afterwards."""
    if response.status_code in ok:
        tally.writes.append(w)
        return True
    answer = f"{response.status_code} for {w.method} {w.path}: {response.text[:ANSWER_CHARS_MAX]}"
    rid, state = step_of
    if rid:
        tally.unsettled[rid] = (state, answer)
    else:
        tally.fail(answer)
    return False
