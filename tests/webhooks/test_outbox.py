"""publish(): in the caller's transaction, one delivery per enabled endpoint subscribed to
the type whose filters match; nothing when the transaction rolls back."""

import asyncpg
import msgspec

from webhooks.endpoints import Filters, register
from webhooks.outbox import publish

ALLOW_PRIVATE = True  # registration resolves nothing beyond loopback here


async def _endpoint(pool: asyncpg.Pool, **filters: list[str]) -> str:
    async with pool.acquire() as conn:
        endpoint, _ = await register(conn, "http://127.0.0.1:9/hook", Filters(**filters), True)
    return endpoint.id


async def _owed(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT endpoint_id, type, payload FROM webhook_deliveries ORDER BY id")
    return [(r["endpoint_id"], r["type"], r["payload"]) for r in rows]


async def test_publish_reaches_subscribed_matching_endpoints_only(db: asyncpg.Pool) -> None:
    await db.execute("INSERT INTO location_groups (name) VALUES ('oslo')")
    await db.execute(
        "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone)"
        " VALUES ('OSLO-1', 'o', 'store', 59.9, 10.7, 'UTC'),"
        " ('BERGEN-1', 'b', 'store', 60, 5, 'UTC')"
    )
    await db.execute("INSERT INTO location_group_members VALUES ('oslo', 'OSLO-1')")
    anything = await _endpoint(db, types=["alert.triggered"])
    by_sku = await _endpoint(db, types=["alert.triggered"], skus=["SKU-1"])
    other_sku = await _endpoint(db, types=["alert.triggered"], skus=["SKU-2"])
    by_group = await _endpoint(db, types=["alert.triggered"], groups=["oslo"])
    elsewhere = await _endpoint(db, types=["alert.triggered"], locations=["BERGEN-1"])
    other_type = await _endpoint(db, types=["back_in_stock"])
    disabled = await _endpoint(db, types=["alert.triggered"])
    await db.execute("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", disabled)

    async with db.acquire() as conn, conn.transaction():
        count = await publish(
            conn, "alert.triggered", {"contact": "a@b.c"}, sku="SKU-1", location="OSLO-1"
        )
    owed = await _owed(db)
    assert count == 3 == len(owed)
    assert {e for e, _, _ in owed} == {anything, by_sku, by_group}
    assert not {other_sku, elsewhere, other_type, disabled} & {e for e, _, _ in owed}
    body = msgspec.json.decode(owed[0][2])
    assert body["type"] == "alert.triggered" and body["data"] == {"contact": "a@b.c"}
    assert body["timestamp"].endswith("Z")


async def test_publish_rolls_back_with_its_caller(db: asyncpg.Pool) -> None:
    await _endpoint(db, types=["alert.triggered"])
    async with db.acquire() as conn:
        try:
            async with conn.transaction():
                assert await publish(conn, "alert.triggered", {}, sku="SKU-1") == 1
                raise RuntimeError("the caller fails after publishing")
        except RuntimeError:
            pass
    assert await _owed(db) == []
