"""The expiry sweeper: every engine process runs one; scripts make each expiry happen once.

Headers past their deadline expire and return their legs' units. Legs past their own
(later) deadline follow their header: committed ones roll forward, those of expired or
abandoned reservations return their units.
"""

import asyncio
import logging
from collections.abc import Sequence

from atp import actor, keys
from atp.limits import (
    EXPIRY_SWEEP_BATCH_MAX,
    EXPIRY_SWEEP_INTERVAL_MS,
    LEDGER_PARTITIONS,
    LEG_EXPIRY_GRACE_MS,
)
from atp.tasks import Periodic
from reservations import calls
from reservations.coordinator import Reservations
from reservations.layout import HEADER, LEG
from reservations.replies import ExpireReply, ExpireResult, TombstoneResult

log = logging.getLogger(__name__)

_FOLLOWS_COMMIT = frozenset({"committed", "fulfilled"})


async def resolve_leg(service: Reservations, rid: str, partition: int) -> None:
    redis = service.redis
    leg = keys.leg(partition, rid)
    state, channel = await redis.command("HMGET", leg, LEG.state, LEG.channel)
    if state is None:
        await redis.command("ZREM", keys.expiry_index(partition), f"l:{rid}")
        return
    header_state = await redis.command("HGET", keys.header(rid), HEADER.state)
    if header_state is None:
        tomb = await calls.header_tombstone(redis, rid, channel or "", service.clock.now_ms())
        header_state = "aborted" if tomb.result is TombstoneResult.aborted else tomb.state
    if header_state == "held":
        reply = await service.expire(rid)
        if reply.result is ExpireResult.not_due:  # the deadline moved (extended): look again then
            deadline = reply.expires_ms + LEG_EXPIRY_GRACE_MS
            await redis.command("ZADD", keys.expiry_index(partition), deadline, f"l:{rid}")
            return
        # A commit may have landed since the header was read: act on the script's answer.
        header_state = state_after(reply)
    if header_state in _FOLLOWS_COMMIT:
        await calls.leg_commit(redis, rid, partition)
    else:
        await service.expire_leg(rid, partition)


def state_after(reply: ExpireReply) -> str:
    """The header's state once header_expire has answered (it was held when read)."""
    if reply.result is ExpireResult.applied:
        return "expired"
    if reply.result is ExpireResult.noop:
        return reply.state
    return "aborted"  # no header any more: the leg is an orphan


def state_after_expire(reply: Sequence[object]) -> str:
    """``state_after`` of a header_expire reply as the script sends it (the reference
    model's)."""
    return state_after(ExpireReply.from_reply(reply))


class ExpirySweeper:
    def __init__(self, service: Reservations, interval_ms: int = EXPIRY_SWEEP_INTERVAL_MS) -> None:
        self.service = service
        self.interval_s = interval_ms / 1000
        self.expired_total = 0
        self._periodic = Periodic("expiry-sweeper", self.sweep_once, self.interval_s)

    async def sweep_partition(self, partition: int, members: list[str] | None = None) -> int:
        """Resolves what is due in one partition (``members``, when already read); returns
        how many holds this call expired."""
        if members is None:
            members = await self._due(partition)
        expired = 0
        with actor.acting(actor.SWEEPER):  # its events say the sweeper did it
            for member in members:
                kind, rid = member.split(":", 1)
                if kind == "h":
                    reply = await self.service.expire(rid)
                    expired += reply.result is ExpireResult.applied
                else:
                    await resolve_leg(self.service, rid, partition)
        return expired

    async def _due(self, partition: int) -> list[str]:
        return await calls.due(
            self.service.redis, partition, self.service.clock.now_ms(), EXPIRY_SWEEP_BATCH_MAX
        )

    async def sweep_once(self) -> int:
        # What is due is read for every partition at once (one pipelined write: a quiet tick
        # costs one round trip, not one per partition); expiries then run partition by
        # partition, not gathered, so their events land in a fixed order, which the
        # reference model reproduces.
        due = await asyncio.gather(*(self._due(p) for p in range(LEDGER_PARTITIONS)))
        total = 0
        for partition, members in enumerate(due):
            if members:
                total += await self.sweep_partition(partition, members)
        self.expired_total += total
        return total

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
