"""One client's stream from the hub: resumes never repeat a change the client has, even
when its id is ahead of this process's hub (another process served it)."""

import asyncio

import asyncpg

from changes.feed import ChangeFeed
from changes.filters import ChangeFilter
from changes.store import StoredChange


def _change(seq: int) -> StoredChange:
    return StoredChange(seq, "adjusted", "A", "S1", "", "", f'{{"seq":{seq}}}')


async def test_a_client_ahead_of_the_hub_gets_only_what_follows_its_id(
    db: asyncpg.Pool, pg_dsn: str
) -> None:
    feed = ChangeFeed(db, lambda: asyncpg.connect(pg_dsn), None, None, None)  # type: ignore[arg-type]
    feed.hub.head = 10  # this process's hub has read up to 10; the client saw 12 elsewhere
    subscriber = feed.open(ChangeFilter.of(skus=["A"]))
    stream = feed.stream(subscriber, after=12)
    feed.hub.dispatch([_change(seq) for seq in (11, 12, 13, 14)])
    first = await asyncio.wait_for(anext(stream), 2)
    second = await asyncio.wait_for(anext(stream), 2)
    await stream.aclose()  # type: ignore[attr-defined]
    assert b"id: 13" in first and b"id: 14" in second
    assert not feed.hub.subscribers  # closing the stream unsubscribed it
