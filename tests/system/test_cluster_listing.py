"""Listing reservations on a private 3-master Redis Cluster: every master is
scanned, pages are complete and never repeat (api/listing.py)."""

import base64
from collections.abc import AsyncIterator

import pytest

from api import listing
from atp import keys
from atp.clock import ManualClock
from atp.model import InvalidInput
from engine.local import Engine
from reservations.model import Line, State
from support.servers import PrivateCluster

pytestmark = [pytest.mark.slow, pytest.mark.servers]

HOLDS = 30
PAGE = 4
TTL_S = 600


@pytest.fixture
async def cluster_engine(cluster_url: str, clock: ManualClock) -> AsyncIterator[Engine]:
    eng = Engine.connect(cluster_url, clock)
    await eng.redis.command("PING")  # the slot map before the first burst
    yield eng
    await eng.close()


async def _all_pages(engine: Engine, state: State | None = None) -> tuple[list[str], list[str]]:
    """(ids in listing order, the cursors handed out)."""
    seen: list[str] = []
    cursors: list[str] = []
    cursor = None
    while True:
        items, cursor = await listing.list_reservations(engine, state, None, PAGE, cursor)
        assert len(items) <= PAGE
        seen += [r.id for r in items]
        if cursor is None:
            return seen, cursors
        cursors.append(cursor)


async def test_listing_covers_every_master(
    cluster_engine: Engine, redis_cluster: PrivateCluster
) -> None:
    skus = [f"L-{i}" for i in range(HOLDS)]
    for sku in skus:
        await cluster_engine.stock.adjust(sku, "S1", 5, "receipt")
    rids = [f"r{i:02d}" for i in range(HOLDS)]
    for rid, sku in zip(rids, skus, strict=True):
        lines = [Line(sku, "S1", 1)]
        assert (await cluster_engine.reservations.reserve(rid, "online", lines, TTL_S)).ok
    homes = {redis_cluster.master_of_key(keys.header(rid)) for rid in rids}
    assert homes == set(redis_cluster.ports), "the headers must spread over every master"
    assert (await cluster_engine.reservations.commit("r07")).ok

    seen, cursors = await _all_pages(cluster_engine)
    assert len(seen) == len(set(seen)), "a reservation listed twice"
    assert sorted(seen) == rids
    nodes = {listing.decode_cursor(c)[0] for c in cursors}
    assert nodes == {0, 1, 2}, "pages must have continued on every master"

    committed, _ = await _all_pages(cluster_engine, State.committed)
    assert committed == ["r07"]


async def test_a_cursor_past_the_masters_is_refused(cluster_engine: Engine) -> None:
    beyond = listing.encode_cursor("0", "", node=3)
    broken = base64.urlsafe_b64encode(b"x/0:").decode().rstrip("=")
    for cursor in (beyond, broken):
        with pytest.raises(InvalidInput) as refused:
            await listing.list_reservations(cluster_engine, None, None, PAGE, cursor)
        assert refused.value.field == "cursor"
    # A single Redis is master 0: its cursors keep their old form.
    assert listing.decode_cursor(listing.encode_cursor("17", "r1")) == (0, "17", "r1")
    assert listing.decode_cursor(listing.encode_cursor("17", "r1", 2)) == (2, "17", "r1")
