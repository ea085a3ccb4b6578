"""The reservation coordinator: holds, commits, extensions and reads.

A reservation is a header in the partition of its id (the one authority for its state and
deadline) plus one leg per partition its lines touch (the units). Legs are reserved first,
each all-or-nothing in one script; if any is short, the others are rolled back; only when
all hold is the header written. A coordinator that dies midway leaves legs without a
header: the expiry sweeper finds them at their deadline, marks the id aborted and returns
the units. See ARCHITECTURE.md.
"""

import asyncio
from collections.abc import Sequence

from atp import keys
from atp.availability import Availability
from atp.clock import Clock, ServerClock
from atp.limits import RESERVATION_TTL_S_DEFAULT, RESERVATION_TTL_S_MAX, RESERVATION_TTL_S_MIN
from atp.model import Channel, Position
from atp.redis_io import RedisIO
from atp.validate import check_id, check_int
from reservations import calls
from reservations.layout import HEADER, as_dict, leg_lines, partitions_of, reservation_from
from reservations.model import (
    Line,
    LineStatus,
    Reservation,
    ReserveOutcome,
    ReserveRequest,
    ReserveResult,
    State,
    TransitionOutcome,
    TransitionResult,
    lines_by_partition,
    make_request,
)
from reservations.replies import (
    ExpireReply,
    HoldReply,
    HoldResult,
    LegHoldResult,
)
from reservations.settle import settle


class Reservations:
    def __init__(self, redis: RedisIO, clock: Clock | None = None) -> None:
        self._availability = Availability(redis)
        self.redis = redis
        self.clock = clock or ServerClock()

    async def reserve(
        self,
        reservation_id: str,
        channel: Channel | str,
        lines: Sequence[Line],
        ttl_s: int = RESERVATION_TTL_S_DEFAULT,
    ) -> ReserveOutcome:
        """Hold every line or none. Retrying the same request returns the first result."""
        request = make_request(reservation_id, channel, lines, ttl_s)
        legs = lines_by_partition(request.lines)
        now = self.clock.now_ms()
        if self.redis.cross_slot_scripts:
            reply = await calls.reserve_atomic(
                self.redis,
                request.id,
                request.digest(),
                request.channel,
                legs,
                request.ttl_s * 1000,
                now,
            )
            if reply.result is HoldResult.insufficient:
                return ReserveOutcome(ReserveResult.insufficient, shortfalls=list(reply.shortfalls))
            return await self._created(request, reply, reply.positions)
        return await self._reserve_by_legs(request, legs, now)

    async def _reserve_by_legs(
        self, request: ReserveRequest, legs: dict[int, list[Line]], now: int
    ) -> ReserveOutcome:
        """The cluster path: each leg in its own slot, then the header."""
        rid, digest, ttl_ms = request.id, request.digest(), request.ttl_s * 1000
        replies = await asyncio.gather(
            *(
                calls.reserve_leg(self.redis, rid, digest, request.channel, p, ls, ttl_ms, now)
                for p, ls in legs.items()
            )
        )
        outcomes = dict(zip(legs, replies, strict=True))
        fresh = [p for p, r in outcomes.items() if r.result is LegHoldResult.reserved]
        if any(r.result is LegHoldResult.conflict for r in replies):
            await self._roll_back(rid, fresh, legs)
            return ReserveOutcome(ReserveResult.conflict)
        short = [s for r in replies if r.result is LegHoldResult.insufficient for s in r.shortfalls]
        if short:
            # Legs an earlier, abandoned attempt of this same request left held go back too.
            stale = [
                p
                for p, r in outcomes.items()
                if r.result is LegHoldResult.already_exists and r.state == State.held
            ]
            await self._roll_back(rid, fresh + stale, legs)
            return ReserveOutcome(ReserveResult.insufficient, shortfalls=short)
        header = await calls.header_create(
            self.redis, rid, digest, request.channel, list(legs), ttl_ms, now
        )
        if header.result not in (HoldResult.held, HoldResult.already_exists):
            await self._roll_back(rid, fresh, legs)
        after = [pos for p in fresh for pos in outcomes[p].positions]
        return await self._created(request, header, after)

    async def _created(
        self, request: ReserveRequest, header: HoldReply, after: Sequence[Position] = ()
    ) -> ReserveOutcome:
        """The outcome once the header script has answered; ``after`` is the scripts'
        positions after the hold."""
        if header.result is HoldResult.held:
            lines_now = [
                LineStatus(ln.sku, ln.location, ln.qty, open=ln.qty) for ln in request.lines
            ]
            held = Reservation(
                request.id, request.channel, State.held, header.expires_ms, lines_now
            )
            positions = await self._positions_after(request, after)
            return ReserveOutcome(ReserveResult.reserved, held, positions=positions)
        if header.result is HoldResult.already_exists:
            return ReserveOutcome(ReserveResult.already_exists, await self.get(request.id))
        if header.result is HoldResult.aborted:
            return ReserveOutcome(ReserveResult.aborted, await self.get(request.id))
        return ReserveOutcome(ReserveResult.conflict)

    async def _positions_after(
        self, request: ReserveRequest, after: Sequence[Position]
    ) -> list[Position]:
        """Each line's position after the hold, in request order. A leg an abandoned attempt
        had already held reports nothing: those lines are read (rare: a retry after a crash)."""
        found = {(p.sku, p.location): p for p in after}
        missing = [ln for ln in request.lines if (ln.sku, ln.location) not in found]
        read = await asyncio.gather(
            *(self._availability.position(ln.sku, ln.location) for ln in missing)
        )
        found.update(((p.sku, p.location), p) for p in read)
        return [found[(ln.sku, ln.location)] for ln in request.lines]

    async def _roll_back(
        self, rid: str, partitions: list[int], legs: dict[int, list[Line]]
    ) -> None:
        now = self.clock.now_ms()
        await asyncio.gather(
            *(
                calls.leg_expire(
                    self.redis,
                    rid,
                    p,
                    [(ln.sku, ln.location) for ln in legs[p]],
                    "rolled_back",
                    now,
                )
                for p in partitions
            )
        )

    async def read(self, rid: str) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
        """The raw header and legs (by partition); an empty header when the id is unknown."""
        header = as_dict(await self.redis.command("HGETALL", keys.header(rid)))
        if not header:
            return header, {}
        parts = partitions_of(header.get(HEADER.parts, ""))
        replies = await asyncio.gather(
            *(self.redis.command("HGETALL", keys.leg(p, rid)) for p in parts)
        )
        return header, {p: as_dict(r) for p, r in zip(parts, replies, strict=True) if r}

    async def get(self, reservation_id: str) -> Reservation | None:
        check_id("id", reservation_id)
        header, legs = await self.read(reservation_id)
        if not header:
            return None
        return reservation_from(reservation_id, header, list(legs.values()))

    async def _outcome(
        self, rid: str, result: TransitionResult, detail: str = ""
    ) -> TransitionOutcome:
        return TransitionOutcome(result, await self.get(rid), detail)

    async def commit(self, reservation_id: str) -> TransitionOutcome:
        """Held to committed: no expiry from here. A hold past its deadline cannot commit."""
        rid = check_id("id", reservation_id)
        now = self.clock.now_ms()
        reply = await calls.header_commit(self.redis, rid, now)
        if reply.result in (TransitionResult.applied, TransitionResult.duplicate):
            await asyncio.gather(
                *(calls.leg_commit(self.redis, rid, p, now) for p in reply.partitions)
            )
            return await self._outcome(rid, reply.result)
        return await self._refused(rid, reply.result, reply.state)

    async def extend(self, reservation_id: str, ttl_s: int) -> TransitionOutcome:
        """A live hold's deadline becomes now + ttl_s."""
        rid = check_id("id", reservation_id)
        check_int("ttl_s", ttl_s, RESERVATION_TTL_S_MIN, RESERVATION_TTL_S_MAX)
        reply = await calls.header_extend(self.redis, rid, ttl_s * 1000, self.clock.now_ms())
        if reply.result is TransitionResult.applied:
            return await self._outcome(rid, TransitionResult.applied)
        return await self._refused(rid, reply.result, reply.state)

    async def _refused(self, rid: str, result: TransitionResult, state: str) -> TransitionOutcome:
        """A header script's refusal of a commit or an extension: the hold expired (its
        expiry completed here), the reservation is past holding, or there is none."""
        if result is TransitionResult.expired:
            await self.expire(rid)
            return await self._outcome(rid, TransitionResult.expired, "the hold expired")
        if result is TransitionResult.illegal:
            return await self._outcome(rid, TransitionResult.illegal, f"reservation is {state}")
        return TransitionOutcome(TransitionResult.not_found)

    async def fulfill(
        self, reservation_id: str, lines: Sequence[Line] | None = None, op_id: str | None = None
    ) -> TransitionOutcome:
        """Units leave on hand and reserved: all still open, or the given quantities per line.
        ``op_id`` makes a partial fulfillment safe to retry."""
        return await settle(self, reservation_id, "fulfilled", lines, op_id)

    async def release(
        self, reservation_id: str, lines: Sequence[Line] | None = None, op_id: str | None = None
    ) -> TransitionOutcome:
        """Units go back to availability: all still open (a no-op when none is), or some."""
        return await settle(self, reservation_id, "released", lines, op_id)

    async def expire(self, reservation_id: str) -> ExpireReply:
        """Expire a hold past its deadline and return its units, exactly once however many
        processes race here. Returns the header script's reply."""
        reply = await calls.header_expire(self.redis, reservation_id, self.clock.now_ms())
        if reply.finished:  # also completes an expiry whose process died between the two steps
            parts = reply.partitions
            await asyncio.gather(*(self.expire_leg(reservation_id, p) for p in parts))
        return reply

    async def expire_leg(self, rid: str, partition: int) -> None:
        leg = as_dict(await self.redis.command("HGETALL", keys.leg(partition, rid)))
        positions = [(ln.sku, ln.location) for ln in leg_lines(leg)]
        await calls.leg_expire(
            self.redis, rid, partition, positions, "expired", self.clock.now_ms()
        )
