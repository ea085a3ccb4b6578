"""Re-sourcing, the glue: positions a stock change left short (on hand < reserved) get their
newest committed reservations moved to other locations, as the router plans; what cannot
move is flagged for a human (attention items).

Safe with every engine process running it at once: leg_move.lua moves at most what is still
short (checked in the same step), so racing re-sourcers move each short unit once, and a
flag is capped in its own step by what is still short and open. See docs/resourcing.md.
"""

import logging
import uuid

import msgspec

from atp import actor, keys
from atp.availability import Availability
from atp.clock import Clock, ServerClock
from atp.limits import (
    ATTENTION_LIST_MAX,
    BATCH_LOCATIONS_MAX,
    LEDGER_PARTITIONS,
    RESOURCING_INTERVAL_MS,
    RESOURCING_RESERVATIONS_MAX,
    RESOURCING_SHORTAGES_BATCH_MAX,
)
from atp.model import Channel
from atp.redis_io import RedisIO
from atp.tasks import Periodic
from atp.validate import check_id, check_reason
from reservations import calls
from reservations.layout import LEG, LegState, as_dict, leg_lines
from reservations.replies import FlagResult, MoveResult, ResolveResult, ShortageResult
from routing.location_directory import LocationDirectory, RoutingLocation
from routing.model import Method, Policy
from routing.plan import plan
from routing.resourcing_rules import (
    Claim,
    Committed,
    candidate_locations,
    candidates,
    claims,
    index_bounds,
    moves,
    order_for,
    parse_member,
)

log = logging.getLogger(__name__)

# leg_move's answers when the reservation was settled meanwhile: nothing of it to move.
_SETTLED_MEANWHILE = frozenset(
    {MoveResult.exceeds_open, MoveResult.no_line, MoveResult.illegal, MoveResult.not_found}
)


class AttentionItem(msgspec.Struct, frozen=True):
    reservation_id: str
    sku: str
    location: str
    units: int  # committed units still at the short location that could not be moved
    # no_location (nowhere has them) | unknown_location (not in the directory) |
    # pickup_order (a promise to hand over at that store: a person decides)
    why: str
    flagged_ms: int


class Outcome(msgspec.Struct):
    """What one pass over a short position did."""

    moved: list[tuple[str, str, int]] = msgspec.field(default_factory=list)  # rid, to, qty
    flagged: list[tuple[str, int]] = msgspec.field(default_factory=list)  # rid, units
    cleared: bool = False  # the position was no longer short


async def attention(redis: RedisIO, limit: int = ATTENTION_LIST_MAX) -> list[AttentionItem]:
    """Every open attention item (up to ``limit``), oldest first."""
    items: list[AttentionItem] = []
    for partition in range(LEDGER_PARTITIONS):
        raw = as_dict(await redis.command("HGETALL", keys.attention(partition)))
        for value in raw.values():
            v = msgspec.json.decode(value)
            items.append(
                AttentionItem(v["rid"], v["sku"], v["loc"], int(v["units"]), v["why"], int(v["ts"]))
            )
    items.sort(key=lambda i: (i.flagged_ms, i.location, i.sku, i.reservation_id))
    return items[:limit]


async def resolve(
    redis: RedisIO,
    reservation_id: str,
    sku: str,
    location: str,
    note: str = "resolved",
    now_ms: int = 0,
) -> bool:
    """Clears one attention item (a `reservation_flag_resolved` event records it); False
    when there was none."""
    check_id("reservation_id", reservation_id)
    check_id("sku", sku)
    check_id("location", location)
    check_reason("note", note)
    reply = await calls.attention_resolve(redis, reservation_id, sku, location, note, now_ms)
    return reply.result is ResolveResult.applied


class Resourcer:
    def __init__(
        self,
        redis: RedisIO,
        directory: LocationDirectory,
        clock: Clock | None = None,
        policy: Policy | None = None,
        interval_ms: int = RESOURCING_INTERVAL_MS,
    ) -> None:
        self.redis = redis
        self.availability = Availability(redis)
        self.directory = directory
        self.clock = clock or ServerClock()
        self.policy = policy
        self.interval_s = interval_ms / 1000
        self.moved_total = 0
        self._periodic = Periodic("resourcer", self.run_once, self.interval_s)

    async def _committed_at(self, sku: str, location: str) -> list[Committed]:
        partition = keys.partition_of_sku(sku)
        high, low = index_bounds(location, sku)
        members = await self.redis.command(
            "ZREVRANGEBYLEX", keys.committed_index(partition), high, low,
            "LIMIT", 0, RESOURCING_RESERVATIONS_MAX,
        )  # fmt: skip
        found = []
        for member in members:
            _, _, committed_ms, rid = parse_member(member)
            leg = as_dict(await self.redis.command("HGETALL", keys.leg(partition, rid)))
            if leg.get(LEG.state) != LegState.committed:
                continue
            open_units = sum(
                ln.open for ln in leg_lines(leg) if (ln.sku, ln.location) == (sku, location)
            )
            channel = Channel(leg.get(LEG.channel) or Channel.online.value)
            found.append(Committed(rid, channel, open_units, committed_ms, await self._route(rid)))
        return found

    async def _route(self, rid: str) -> Method | None:
        raw = await self.redis.command("GET", keys.route(rid))
        if raw is None:
            return None
        try:
            method: Method = msgspec.json.decode(raw, type=Method)
            return method
        except msgspec.DecodeError:  # not ours to judge: plan as for an unrouted reservation
            log.warning("unreadable route of reservation %s", rid)
            return None

    async def _atp(self, sku: str, names: list[str], channel: Channel) -> dict[str, int]:
        atp: dict[str, int] = {}
        for start in range(0, len(names), BATCH_LOCATIONS_MAX):
            chunk = names[start : start + BATCH_LOCATIONS_MAX]
            for position in await self.availability.positions([sku], chunk):
                atp[position.location] = position.atp(channel)
        return atp

    async def _flag(
        self, out: Outcome, claim: Claim, sku: str, location: str, units: int, why: str
    ) -> None:
        reply = await calls.attention_flag(
            self.redis, claim.rid, sku, location, units, why, self.clock.now_ms()
        )
        if reply.result is not FlagResult.not_needed:
            out.flagged.append((claim.rid, reply.units))

    async def _move_claim(
        self,
        out: Outcome,
        claim: Claim,
        sku: str,
        location: str,
        origin: RoutingLocation,
        known: list[RoutingLocation],
    ) -> bool:
        """Plans and moves one reservation's units; False once the shortage is covered."""
        order = order_for(sku, claim, origin)
        if order is None:  # a pickup promise: a person decides (transfer, or tell them)
            await self._flag(out, claim, sku, location, claim.units, "pickup_order")
            return True
        allowed = candidate_locations(order, known, location)
        atp = await self._atp(sku, [loc.location for loc in allowed], claim.channel)
        moved = 0
        for move in moves(plan(order, candidates(allowed, sku, atp), self.policy), sku):
            reply = await calls.leg_move(
                self.redis, claim.rid, sku, location, move.target, move.qty,
                short_only=True, op_id=f"rs-{uuid.uuid4().hex}", now_ms=self.clock.now_ms(),
            )  # fmt: skip
            if reply.result is MoveResult.not_short:
                return False  # another process (or a receipt) covered it
            if reply.result is MoveResult.applied:
                moved += reply.units
                self.moved_total += reply.units
                out.moved.append((claim.rid, move.target, reply.units))
                if reply.units < move.qty:
                    return False  # capped at what was still short: covered
            elif reply.result in _SETTLED_MEANWHILE:
                return True  # the reservation was settled meanwhile: nothing of it to move
        if moved < claim.units:
            await self._flag(out, claim, sku, location, claim.units - moved, "no_location")
        else:  # an earlier pass may have flagged what has now moved
            await calls.attention_resolve(
                self.redis, claim.rid, sku, location, "moved", self.clock.now_ms()
            )
        return True

    async def resource_position(self, sku: str, location: str) -> Outcome:
        """One pass over one short position: moves, flags, or clears it."""
        with actor.acting(actor.RESOURCER):  # its moves and flags say re-sourcing did them
            return await self._resource_position(sku, location)

    async def _resource_position(self, sku: str, location: str) -> Outcome:
        out = Outcome()
        position = await self.availability.position(sku, location)
        if position.short <= 0:
            cleared = await calls.shortage_clear(self.redis, sku, location)
            if cleared.result is ShortageResult.cleared:
                out.cleared = True
                await self._resolve_position(sku, location)
                return out
        committed = await self._committed_at(sku, location)
        todo = claims(position.short, committed)
        if not todo:
            return out
        known = list(await self.directory.locations())
        origin = next((loc for loc in known if loc.location == location), None)
        for claim in todo:
            if origin is None:
                await self._flag(out, claim, sku, location, claim.units, "unknown_location")
            elif not await self._move_claim(out, claim, sku, location, origin, known):
                break
        return out

    async def _resolve_position(self, sku: str, location: str) -> None:
        """A position no longer short needs no one's attention."""
        fields = await self.redis.command("HKEYS", keys.attention(keys.partition_of_sku(sku)))
        prefix = f"{location}|{sku}|"
        for field in fields:
            if field.startswith(prefix):
                rid = field[len(prefix) :]
                await calls.attention_resolve(
                    self.redis, rid, sku, location, "shortage_cleared", self.clock.now_ms()
                )

    async def run_partition(self, partition: int) -> list[Outcome]:
        members = await self.redis.command(
            "SRANDMEMBER", keys.shortages(partition), RESOURCING_SHORTAGES_BATCH_MAX
        )
        outcomes = []
        for member in sorted(members):
            location, sku = member.split("|", 1)
            outcomes.append(await self.resource_position(sku, location))
        return outcomes

    async def run_once(self) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for partition in range(LEDGER_PARTITIONS):
            outcomes += await self.run_partition(partition)
        return outcomes

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
