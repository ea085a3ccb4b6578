"""The benchmark's world in PostgreSQL: one named store, a webhook endpoint (the messaging
tool: the local receiver) subscribed to alert.triggered, and the subscriptions, inserted in
bulk (COPY) as sign-ups would have left them."""

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from webhooks.endpoints import new_secret

SKU = "SKU-ALERT"
LOCATION = "ST-001"
LOCATION_NAME = "Oslo Sentrum"
COPY_ROWS_PER_BATCH = 20_000

_COLUMNS = (
    "id", "contact_kind", "contact", "sku", "location", "channel", "consent_at",
    "consent_source", "unsubscribe_token", "created_at",
)  # fmt: skip


async def seed(dsn: str, subscriptions: int, receiver_url: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO locations (id, name, kind, latitude, longitude, time_zone)"
            " VALUES ($1, $2, 'store', 59.91, 10.75, 'Europe/Oslo')",
            LOCATION,
            LOCATION_NAME,
        )
        await conn.execute(
            "INSERT INTO webhook_endpoints (id, url, secret, types, start_seq)"
            " VALUES ('messaging', $1, $2, '{alert.triggered}', 0)",
            receiver_url,
            new_secret(),
        )
        start = datetime.now(UTC) - timedelta(days=30)
        for at in range(0, subscriptions, COPY_ROWS_PER_BATCH):
            rows = [
                (
                    f"sub_bench{i:07d}",
                    "email",
                    f"c{i}@example.no",
                    SKU,
                    LOCATION,
                    "online",
                    start,
                    "bench",
                    f"tok{i:07d}" + secrets.token_hex(4),
                    start + timedelta(seconds=i),
                )
                for i in range(at, min(subscriptions, at + COPY_ROWS_PER_BATCH))
            ]
            await conn.copy_records_to_table("alert_subscriptions", records=rows, columns=_COLUMNS)
        await conn.execute("ANALYZE alert_subscriptions")
    finally:
        await conn.close()
