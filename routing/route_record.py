"""An allocated order's route record: how it is fulfilled (its method), for re-sourcing
(routing/resourcing.py), written with its `reservation_routed` event in one step, so a
rebuild restores it."""

from importlib import resources

from atp import keys
from atp.limits import EVENT_STREAM_MAXLEN, RETENTION_S
from atp.redis_io import Arg, RedisIO
from atp.scripts import Script

# The script sits here rather than in a .lua file beside it: routing has no Lua package.
_ROUTE = Script(
    "route_record",
    resources.files("atp.lua").joinpath("_prelude.lua").read_text()
    + """
-- route_record: how a routed reservation's order is fulfilled (its method), for re-sourcing
-- (routing/resourcing.py), recorded and journaled in one step: a rebuild restores it.
-- KEYS[1] the route key (atp.keys.route)  KEYS[2] the home partition's stream
-- ARGV[1] reservation id  [2] method (JSON)  [3] retention_s  [4] now_ms (0: server time)
--     [5] stream maxlen, then the acting party (take_actor)
-- returns 1
take_actor()
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
emit({stream = KEYS[2], maxlen = ARGV[5], now = clock_ms(ARGV[4]), type = 'reservation_routed',
  rid = ARGV[1], reason = ARGV[2]})
return 1
""",
    actor=True,
)


async def record_route(
    redis: RedisIO, reservation_id: str, method_json: str, now_ms: int = 0
) -> None:
    """Writes the route record and its `reservation_routed` event, atomically (one slot)."""
    home = keys.stream(keys.partition_of_reservation(reservation_id))
    args: list[Arg] = [reservation_id, method_json, RETENTION_S, now_ms, EVENT_STREAM_MAXLEN]
    await redis.run(_ROUTE, [keys.route(reservation_id), home], args)
