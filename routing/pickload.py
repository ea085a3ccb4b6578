"""Pick capacity left today: units already allocated per location and day, in Redis.

`RoutingLocation.capacity_units` is what a location can still pick today. A directory usually
knows the *daily* capacity; `PickLoad` counts what allocations took today and
`CapacityDirectory` subtracts it. One hash per day, `atp:{meta}:pick:<day>` (location ->
units), and a guard key per reservation id, `atp:{meta}:pickrid:<id>`, so a retried
allocation counts once; both expire after PICKLOAD_RETENTION_S. A reservation released or
expired later does not give its units back: the load errs towards a busy store (a missed
split), never towards promising picks a store cannot make.
"""

import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Protocol

import msgspec

from atp.keys import pick_guard as guard_key
from atp.keys import pick_load as load_key
from atp.redis_io import RedisIO, hash_reply
from atp.scripts import Script
from atp.validate import check_id
from routing.limits import PICKLOAD_CACHE_MS, PICKLOAD_LINES_MAX, PICKLOAD_RETENTION_S
from routing.location_directory import LocationDirectory, RoutingLocation

# The script sits here rather than in a .lua file beside it: routing has no Lua package.
_ADD = Script(
    "pick_add",
    """
-- pick_add: count one reservation's units against each location's pick load for a day,
-- once per reservation id.
-- KEYS[1] the day's load hash (location -> units)  KEYS[2] the reservation id's guard
-- ARGV[1] day  ARGV[2] retention s  then per location: location, units
-- returns 1 when counted now, 0 when this id was counted before (on any day)
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
""",
)


def utc_today() -> date:
    return datetime.now(UTC).date()


class HeldLine(Protocol):
    @property
    def location(self) -> str: ...

    @property
    def qty(self) -> int: ...


class PickLoad:
    """Units allocated per location today. ``today`` says which day it is (UTC by
    default: every engine process must agree, so not the host's local zone)."""

    def __init__(self, redis: RedisIO, today: Callable[[], date] = utc_today) -> None:
        self._redis = redis
        self.today = today

    async def add(self, reservation_id: str, lines: Sequence[HeldLine]) -> bool:
        """Counts these units once per reservation id; False when it was counted before."""
        check_id("reservation_id", reservation_id)
        if not 1 <= len(lines) <= PICKLOAD_LINES_MAX:
            raise ValueError(f"lines must hold 1 to {PICKLOAD_LINES_MAX} entries")
        units: dict[str, int] = {}
        for ln in lines:
            units[ln.location] = units.get(ln.location, 0) + ln.qty
        day = self.today()
        args: list[str | int] = [day.isoformat(), PICKLOAD_RETENTION_S]
        for location, qty in sorted(units.items()):
            args += [location, qty]
        counted = await self._redis.run(_ADD, [load_key(day), guard_key(reservation_id)], args)
        return bool(counted)

    async def used(self, day: date | None = None) -> dict[str, int]:
        """location -> units allocated on ``day`` (today by default)."""
        raw = await self._redis.command("HGETALL", load_key(day or self.today()))
        return {_text(k): int(v) for k, v in hash_reply(raw).items()}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class CapacityDirectory:
    """A LocationDirectory whose inner directory gives *daily* capacity; this one gives
    what is left today (daily - allocated today, never below 0). The load is read at most
    every ``max_age_ms`` (one round trip), so the read path stays in memory between."""

    def __init__(
        self, inner: LocationDirectory, load: PickLoad, max_age_ms: int = PICKLOAD_CACHE_MS
    ) -> None:
        self.inner = inner
        self.load = load
        self.max_age_ms = max_age_ms
        self._cached: tuple[float, date, dict[str, int]] | None = None

    async def _used(self) -> dict[str, int]:
        now, day = time.monotonic(), self.load.today()
        cached = self._cached
        if cached is not None and cached[1] == day and (now - cached[0]) * 1000 < self.max_age_ms:
            return cached[2]
        used = await self.load.used(day)
        self._cached = (now, day, used)
        return used

    async def locations(self) -> Sequence[RoutingLocation]:
        used = await self._used()
        return [
            msgspec.structs.replace(
                loc, capacity_units=max(0, loc.capacity_units - used[loc.location])
            )
            if used.get(loc.location)
            else loc
            for loc in await self.inner.locations()
        ]
