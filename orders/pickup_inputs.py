"""What a store's pickup promise is computed from, read from PostgreSQL in one query: its
opening hours, holidays, cut-off and capacity (catalog), its pick queue (orders received
and not yet staged) and its measured stage time: the 95th percentile of its recent
``staged_at - order_received_at`` (the default until there are enough). Not the median: a
promise at the median is late for every other order; at the 95th it is kept as often as
the pickup on-time KPI asks (>= 95 %).

A process keeps each store's inputs for ``PICKUP_INPUTS_TTL_S``: a promise query costs no
round trip, and a queue or a median a second old moves a promise by far less than its
minutes of rounding.
"""

import datetime as dt
import time
from typing import Final

import asyncpg
import msgspec

from durability.db import Conn
from orders.model import QUEUED
from orders.pickup_promise import STAGE_TIME_DEFAULT, Store

PICKUP_INPUTS_TTL_S: Final = 2.0
STAGE_SAMPLES: Final = 50  # recent staged orders the percentile is taken over
STAGE_PROMISE_PERCENTILE: Final = 0.95  # the share of orders a promise should be kept for
STAGE_SAMPLES_MIN: Final = 5  # fewer than this: the default stage time
STAGE_WINDOW_DAYS: Final = 28  # older staging says little about today's staffing
CACHED_STORES_MAX: Final = 10_000

_INPUTS = """
SELECT l.kind, l.pickup, l.time_zone, l.opening_hours::text AS opening_hours, l.holidays,
       l.pickup_cutoff_minutes, l.pickup_capacity_per_hour,
       (SELECT count(*) FROM orders o WHERE o.location = l.id
            AND o.method IN ('pickup', 'curbside') AND o.state = ANY($2::text[])) AS queue,
       s.stage_s, s.samples
FROM locations l,
LATERAL (
    SELECT percentile_cont($5) WITHIN GROUP (ORDER BY secs) AS stage_s, count(*) AS samples
    FROM (SELECT extract(epoch FROM o.staged_at - o.order_received_at) AS secs
          FROM orders o
          WHERE o.location = l.id AND o.staged_at IS NOT NULL
            AND o.staged_at > $3
          ORDER BY o.staged_at DESC LIMIT $4) recent
) s
WHERE l.id = $1
"""
_HOURS = msgspec.json.Decoder(dict[str, list[list[str]]])


class StoreInputs(msgspec.Struct, frozen=True):
    kind: str
    offers_pickup: bool
    store: Store
    queue_ahead: int
    stage_time: dt.timedelta
    stage_measured: bool  # False: the default, too few staged orders yet


async def read(conn: Conn | asyncpg.Pool, location: str, now: dt.datetime) -> StoreInputs | None:
    since = now - dt.timedelta(days=STAGE_WINDOW_DAYS)
    r = await conn.fetchrow(
        _INPUTS, location, [s.value for s in QUEUED], since, STAGE_SAMPLES,
        STAGE_PROMISE_PERCENTILE,
    )  # fmt: skip
    if r is None:
        return None
    measured = r["samples"] >= STAGE_SAMPLES_MIN and r["stage_s"] is not None
    stage = dt.timedelta(seconds=float(r["stage_s"])) if measured else STAGE_TIME_DEFAULT
    store = Store(
        time_zone=r["time_zone"],
        opening_hours=_HOURS.decode(r["opening_hours"]),
        holidays=frozenset(r["holidays"]),
        cutoff=dt.timedelta(minutes=r["pickup_cutoff_minutes"]),
        capacity_per_hour=r["pickup_capacity_per_hour"],
    )
    return StoreInputs(r["kind"], r["pickup"], store, r["queue"], stage, measured)


class PickupInputs:
    """Each store's inputs, kept for a moment (see the module's note)."""

    def __init__(self, ttl_s: float = PICKUP_INPUTS_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._kept: dict[str, tuple[float, StoreInputs | None]] = {}

    async def get(self, pool: asyncpg.Pool, location: str, now: dt.datetime) -> StoreInputs | None:
        moment = time.monotonic()
        kept = self._kept.get(location)
        if kept is not None and kept[0] > moment:
            return kept[1]
        found = await read(pool, location, now)
        if len(self._kept) >= CACHED_STORES_MAX:
            self._kept.clear()
        self._kept[location] = (moment + self._ttl_s, found)
        return found

    def forget(self, location: str) -> None:
        """After this process changed the store's queue: the next promise reads it again."""
        self._kept.pop(location, None)
