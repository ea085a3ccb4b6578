"""Availability answered from the in-memory replica: the same answers as atp/availability.py
(unknown SKUs and locations read as zero), without a network round trip.

Group members are not in the event streams (they change rarely, by an operator), so they
are read from Redis and kept for REPLICA_GROUP_TTL_MS. Nothing here decides a write: a
reservation is always checked by Redis, so a stale read can disappoint, never oversell.
"""

import time
from collections.abc import Sequence
from datetime import date

from atp import keys
from atp.availability import check_list
from atp.limits import (
    BATCH_LOCATIONS_MAX,
    BATCH_POSITIONS_MAX,
    BATCH_SKUS_MAX,
    GROUP_LOCATIONS_MAX,
    REPLICA_GROUP_TTL_MS,
)
from atp.model import Channel, InvalidInput, LedgerUnavailable
from atp.redis_io import RedisIO
from atp.replica import Replica
from atp.rules import promise_date
from atp.validate import check_id, check_qty


def replica_to_read(
    replica: Replica | None, *, ledger_ready: bool, skus: Sequence[str], strong: bool = False
) -> Replica | None:
    """The one read policy: the in-memory replica when it may answer ``skus``, None to read
    Redis.

    While a durable ledger is missing or being rebuilt neither copy is the truth
    (LedgerUnavailable: a 503, not zeros). A strong read, a replica not loaded or lagging
    past REPLICA_READY_LAG_MS (Replica.serving), or one that does not hold every SKU's
    partition (ATP_REPLICA_PARTITIONS), goes to Redis.
    """
    if not ledger_ready:
        raise LedgerUnavailable("the ledger is being rebuilt")
    if strong or replica is None or not replica.serving or not replica.holds(skus):
        return None
    return replica


class ReplicaReads:
    def __init__(self, replica: Replica, redis: RedisIO) -> None:
        self.replica = replica
        self._redis = redis
        self._groups: dict[str, tuple[float, list[str]]] = {}

    def check_batch(self, skus: Sequence[str], locations: Sequence[str]) -> None:
        """Refuses what atp/availability.py refuses for a batch, with the same errors."""
        check_list("skus", skus, BATCH_SKUS_MAX)
        check_list("locations", locations, BATCH_LOCATIONS_MAX)
        if len(skus) * len(locations) > BATCH_POSITIONS_MAX:
            raise InvalidInput("skus", f"skus x locations must not exceed {BATCH_POSITIONS_MAX}")

    def as_of(self, skus: Sequence[str]) -> str:
        partition_of = keys.partition_of_sku
        if len(skus) == 1:
            return self.replica.as_of([partition_of(skus[0])])
        return self.replica.as_of(list({partition_of(sku) for sku in skus}))

    def lag_ms(self) -> float:
        return self.replica.lag_now_ms()

    async def group_members(self, name: str) -> list[str]:
        check_id("group", name)
        now = time.monotonic()
        cached = self._groups.get(name)
        if cached is not None and now - cached[0] < REPLICA_GROUP_TTL_MS / 1000:
            return cached[1]
        members = sorted(await self._redis.command("SMEMBERS", keys.group(name)))
        if not members:
            self._groups.pop(name, None)
            raise InvalidInput("group", f"unknown location group {name!r}")
        self._groups[name] = (now, members)
        return members

    def promise(
        self, sku: str, qty: int, locations: list[str], channel: Channel, today: date
    ) -> date | None:
        check_id("sku", sku)
        check_qty("qty", qty)
        locations = check_list("locations", locations, GROUP_LOCATIONS_MAX)
        positions = self.replica.positions
        stock = [
            (positions.position(sku, loc), positions.supplies_at(sku, loc)) for loc in locations
        ]
        return promise_date(stock, qty, channel, today)
