"""Fulfilling and releasing a reservation's units, whole or per line."""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from atp.clock import Clock
from atp.redis_io import RedisIO
from atp.validate import check_id, check_optional_id
from reservations import calls
from reservations.layout import HEADER, LINE, leg_lines, line_field, op_receipt, reservation_from
from reservations.model import (
    Line,
    Reservation,
    State,
    TransitionOutcome,
    TransitionResult,
    check_lines,
    sorted_lines,
)


class Ledger(Protocol):
    """What settling needs of the coordinator (reservations/coordinator.py, which calls
    settle): no cycle."""

    redis: RedisIO
    clock: Clock

    async def read(self, rid: str) -> tuple[dict[str, str], dict[int, dict[str, str]]]: ...

    async def get(self, rid: str) -> Reservation | None: ...


Target = tuple[int, str, str, int]  # (line index in its leg, sku, location, qty; 0 = all open)

_LEG_FAILURES = frozenset(
    {
        TransitionResult.not_found,
        TransitionResult.illegal,
        TransitionResult.exceeds_open,
        TransitionResult.on_hand_short,
        TransitionResult.op_conflict,
    }
)


def settle_targets(
    legs: dict[int, dict[str, str]], lines: Sequence[Line] | None
) -> dict[int, list[Target]] | TransitionOutcome:
    """Which line of which leg each asked line is; every line still open when none are named."""
    index: dict[tuple[str, str], tuple[int, int, int]] = {}
    for partition, leg in legs.items():
        for i, status in enumerate(leg_lines(leg), start=1):
            index[(status.sku, status.location)] = (partition, i, status.open)
    targets: dict[int, list[Target]] = defaultdict(list)
    if lines is None:
        for (sku, loc), (partition, i, open_qty) in index.items():
            if open_qty:
                targets[partition].append((i, sku, loc, 0))
        return targets
    for line in lines:
        found = index.get((line.sku, line.location))
        if found is None:
            return TransitionOutcome(
                TransitionResult.unknown_line, detail=f"no line for {line.sku} at {line.location}"
            )
        partition, i, _ = found
        targets[partition].append((i, line.sku, line.location, line.qty))
    return targets


def request_digest(action: str, lines: Sequence[Line] | None) -> str:
    """What an op id's retry must repeat: the action and the lines asked (or all)."""
    if lines is None:
        return f"{action}|all"
    return f"{action}|" + ";".join(f"{ln.location}|{ln.sku}|{ln.qty}" for ln in sorted_lines(lines))


def settled_by_retry(
    legs: dict[int, dict[str, str]], op_id: str, digest: str
) -> set[int] | tuple[TransitionResult, str]:
    """The legs a retried op id already settled (its receipt on them): its first attempt may
    have ended the reservation, or been cut after some legs (a lost Redis, a killed worker),
    so the retry settles only the others. op_conflict when a receipt says the id was used
    for another request."""
    if not op_id:
        return set()
    seen = {p: leg.get(op_receipt(op_id)) for p, leg in legs.items()}
    done = {p for p, found in seen.items() if found is not None}
    if any(seen[p] != digest for p in done):
        return TransitionResult.op_conflict, f"op_id {op_id} was used for another request"
    return done


def exceeding(
    legs: dict[int, dict[str, str]], targets: dict[int, list[Target]]
) -> tuple[TransitionResult, str] | None:
    """No line may ask for more than is still open on it."""
    for p, ts in targets.items():
        for i, sku, loc, qty in ts:
            open_qty = int(legs[p][line_field(LINE.open, i)])
            if qty > open_qty:
                return (
                    TransitionResult.exceeds_open,
                    f"{sku} at {loc}: {qty} asked, {open_qty} open",
                )
    return None


def decide_settle(
    rid: str,
    header: dict[str, str],
    legs: dict[int, dict[str, str]],
    action: str,
    lines: Sequence[Line] | None,
    op_id: str,
) -> tuple[TransitionOutcome | None, dict[int, list[Target]], str]:
    """Everything settle decides before a script runs (pure; the reference model shares it):
    a refusal, or the targets per leg and the digest their receipts will carry."""
    before = reservation_from(rid, header, list(legs.values()))
    digest = request_digest(action, lines)
    done = settled_by_retry(legs, op_id, digest)
    if isinstance(done, tuple):
        return TransitionOutcome(done[0], before, done[1]), {}, digest
    found = settle_targets(legs, lines)
    if done:  # answered from the receipts before anything else is judged
        left = {} if isinstance(found, TransitionOutcome) else found
        found = {p: ts for p, ts in left.items() if p not in done}
        if not found:
            return TransitionOutcome(TransitionResult.duplicate, before), {}, digest
    allowed = (State.committed,) if action == "fulfilled" else (State.held, State.committed)
    if before.state not in allowed:
        ended = before.state in (State.released, State.fulfilled)
        if action == "released" and lines is None and ended:
            return TransitionOutcome(TransitionResult.duplicate, before), {}, digest
        expired = before.state is State.expired
        result = TransitionResult.expired if expired else TransitionResult.illegal
        return TransitionOutcome(result, before, f"reservation is {before.state.value}"), {}, digest
    if isinstance(found, TransitionOutcome):
        return TransitionOutcome(found.result, before, found.detail), {}, digest
    refused = exceeding(legs, found)
    if refused is not None:
        return TransitionOutcome(refused[0], before, refused[1]), {}, digest
    return None, found, digest


async def settle(
    service: Ledger,
    reservation_id: str,
    action: str,
    lines: Sequence[Line] | None,
    op_id: str | None,
) -> TransitionOutcome:
    """action: 'fulfilled' (units leave on hand and reserved) or 'released' (units return)."""
    rid = check_id("id", reservation_id)
    op = check_optional_id("op_id", op_id)
    if lines is not None:
        check_lines(lines)
    header, legs = await service.read(rid)
    if not header:
        return TransitionOutcome(TransitionResult.not_found)
    refused, found, digest = decide_settle(rid, header, legs, action, lines, op)
    if refused is not None:
        return refused
    committed = header[HEADER.state] == State.committed.value
    now = service.clock.now_ms()
    replies = await asyncio.gather(
        *(
            calls.leg_settle(service.redis, rid, p, action, committed, ts, op, digest, now)
            for p, ts in found.items()
        )
    )
    after = await service.get(rid)
    assert after is not None
    if after.state in (State.fulfilled, State.released):
        await calls.header_close(service.redis, rid, after.state.value, now)
    failures = [r for r in replies if r.result in _LEG_FAILURES]
    if failures:
        failed = failures[0]
        return TransitionOutcome(failed.result, after, failed.detail)
    if replies and all(r.result is TransitionResult.duplicate for r in replies):
        return TransitionOutcome(TransitionResult.duplicate, after)
    changed = [p for r in replies if r.result is TransitionResult.applied for p in r.positions]
    return TransitionOutcome(TransitionResult.applied, after, positions=changed)
