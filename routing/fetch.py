"""Live availability for the router: ATP per location and SKU, and incoming supply.

From the engine's in-memory replica when it has one and it is ready (no round trip: the
read path of every plan), else from Redis in chunks issued together (one round trip per
BATCH_POSITIONS_MAX positions on a single Redis). A stale replica can only cost a re-plan:
the hold that follows always goes to Redis.
"""

import asyncio
from collections.abc import Sequence

from atp.limits import BATCH_POSITIONS_MAX
from atp.model import Channel
from atp.packed import PackedPositions
from atp.replica_reads import replica_to_read
from routing.limits import FETCH_LOCATIONS_MAX
from routing.model import Arrival
from routing.port import LedgerPort


def _replica(
    engine: LedgerPort, skus: Sequence[str], strong: bool = False
) -> PackedPositions | None:
    """The in-process copy of the ledger when the read policy lets it answer ``skus``."""
    replica = replica_to_read(engine.replica, ledger_ready=engine.ready, skus=skus, strong=strong)
    return None if replica is None else replica.positions


async def fetch_atp(
    engine: LedgerPort,
    skus: Sequence[str],
    locations: Sequence[str],
    channel: Channel,
    *,
    strong: bool = False,
) -> dict[str, dict[str, int]]:
    """location -> sku -> ATP for the channel (absent: none). From the replica when ready
    (unless ``strong``), else from Redis in chunks issued at once (pipelined)."""
    packed = _replica(engine, skus, strong)
    if packed is not None:
        return packed.available(skus, locations, channel)
    atp: dict[str, dict[str, int]] = {loc: {} for loc in locations}
    per_call = max(1, min(FETCH_LOCATIONS_MAX, BATCH_POSITIONS_MAX // max(1, len(skus))))
    chunks = [locations[k : k + per_call] for k in range(0, len(locations), per_call)]
    replies = await asyncio.gather(
        *(engine.availability.positions(skus, chunk) for chunk in chunks)
    )
    for reply in replies:
        for position in reply:
            units = position.atp(channel)
            if units:
                atp[position.location][position.sku] = units
    return atp


async def fetch_arrivals(
    engine: LedgerPort, skus: Sequence[str], locations: Sequence[str]
) -> dict[str, list[Arrival]]:
    """location -> incoming supply of these SKUs there (locations without any left out)."""
    arrivals: dict[str, list[Arrival]] = {}
    packed = _replica(engine, skus)
    if packed is not None:
        for loc in locations:
            for sku in skus:
                for s in packed.supplies_at(sku, loc):
                    arrivals.setdefault(loc, []).append(Arrival(sku, s.qty, s.expected_on))
        return arrivals
    pairs = [(sku, loc) for sku in skus for loc in locations]
    chunks = [pairs[k : k + BATCH_POSITIONS_MAX] for k in range(0, len(pairs), BATCH_POSITIONS_MAX)]
    replies = await asyncio.gather(*(engine.availability.supplies(chunk) for chunk in chunks))
    for reply in replies:
        for (sku, loc), supplies in reply.items():
            for s in supplies:
                arrivals.setdefault(loc, []).append(Arrival(sku, s.qty, s.expected_on))
    return arrivals
