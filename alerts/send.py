"""The send step: for each scope with pending triggers, availability is read again from
the engine; the units there now (then incoming supply within the horizon) each tell
``subscribers_per_unit`` waiting subscribers, oldest first (alerts/rules.py). Each
notification is recorded and published as an ``alert.triggered`` webhook event in the
same transaction, the subscriber is marked notified, and the triggers are done. The rest
wait for the next restock. Nothing there now: nobody is told.

A restock that tells more than a pass takes (``SENDS_PER_PASS_MAX``) goes on in the next
pass, which reads availability again and skips those this restock already told."""

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import cast

import asyncpg

from alerts import payload
from alerts.limits import SENDS_PER_PASS_MAX, TRIGGERS_PER_PASS_MAX
from alerts.rules import LocationStock, Window, windows
from alerts.scope_stock import scope_stock
from alerts.settings import AlertSettings
from atp.availability import Availability
from atp.model import Channel
from durability.db import Conn
from webhooks.outbox import publish

Scope = tuple[str, str, str, str]  # sku, location, group, channel

_PENDING = """
SELECT id, sku, location, location_group, channel, data, notified FROM alert_triggers
WHERE done_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_QUEUE = """
SELECT id, contact_kind, contact, unsubscribe_token FROM alert_subscriptions
WHERE sku = $1 AND location = $2 AND location_group = $3 AND channel = $4 AND state = 'waiting'
ORDER BY seq LIMIT $5 FOR UPDATE SKIP LOCKED
"""
_RECORD = """
INSERT INTO alert_sends (id, subscription_id, trigger_id, contact_kind, contact, sku, location,
    location_group, channel, window_kind, window_location, window_day, window_text, sent_at,
    resend_due_at)
SELECT s.id, s.subscription_id, $1, s.kind, s.contact, $2, $3, $4, $5, s.window_kind,
    s.window_location, s.window_day, s.window_text, $6, $7
FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
            $14::date[], $15::text[])
    AS s(id, subscription_id, kind, contact, window_kind, window_location, window_day,
         window_text)
"""
_NOTIFIED = """
UPDATE alert_subscriptions SET state = 'notified', ended_at = $2 WHERE id = ANY($1::text[])
"""
_DONE = "UPDATE alert_triggers SET done_at = $2 WHERE id = ANY($1::bigint[])"
_TOLD = "UPDATE alert_triggers SET notified = notified + $2 WHERE id = $1"


async def _record(
    conn: Conn,
    settings: AlertSettings,
    now: datetime,
    scope: Scope,
    restock: tuple[int, str],
    told: list[tuple[asyncpg.Record, Window]],
    stock: list[LocationStock],
) -> None:
    trigger_id, data = restock
    ids = ["snd_" + uuid.uuid4().hex for _ in told]
    due = now + timedelta(seconds=settings.resend_delay_s)
    await conn.execute(
        _RECORD,
        trigger_id,
        *scope,
        now,
        due,
        ids,
        [sub["id"] for sub, _ in told],
        [sub["contact_kind"] for sub, _ in told],
        [sub["contact"] for sub, _ in told],
        [w.kind for _, w in told],
        [w.location for _, w in told],
        [w.day for _, w in told],
        [w.text for _, w in told],
    )
    restock_fields = payload.trigger(data)
    for send_id, (sub, w) in zip(ids, told, strict=True):
        data_out = payload.event(
            send_id=send_id,
            subscription=subscriber(
                sub["id"], sub["contact_kind"], sub["contact"], sub["unsubscribe_token"]
            ),
            scope=scope,
            stock=stock,
            win=payload.window(w),
            restock=restock_fields,
            sent_at=now,
            resend=False,
        )
        await publish_event(conn, data_out, scope)
    await conn.execute(_NOTIFIED, [sub["id"] for sub, _ in told], now)


async def publish_event(conn: Conn, data: dict[str, object], scope: Scope) -> None:
    """An ``alert.triggered`` delivery to every endpoint that wants it, in this transaction."""
    # publish names a bare connection; one borrowed from a pool is the same to it.
    bare = cast("asyncpg.Connection[asyncpg.Record]", conn)
    await publish(bare, payload.EVENT_TYPE, data, sku=scope[0], location=scope[1], group=scope[2])


def subscriber(subscription_id: str, kind: str, contact: str, token: str) -> dict[str, object]:
    return {
        "subscription_id": subscription_id,
        "contact": payload.contact(kind, contact),
        "unsubscribe_token": token,
    }


async def _send_scope(
    conn: Conn,
    availability: Availability,
    settings: AlertSettings,
    now: datetime,
    scope: Scope,
    triggers: list[asyncpg.Record],
    budget: int,
) -> int:
    """Tells up to ``budget`` subscribers of one scope; the scope's triggers are done once
    its units or its waiting subscribers run out."""
    sku, location, group, channel = scope
    lead = triggers[0]
    already = sum(t["notified"] for t in triggers)
    stock = await scope_stock(availability, conn, sku, location, group, Channel(channel))
    per_unit, horizon = settings.subscribers_per_unit, settings.horizon_days
    wins = windows(stock, per_unit, now.date(), horizon, already, budget)
    subs = await conn.fetch(_QUEUE, *scope, len(wins)) if wins else []
    told = list(zip(subs, wins, strict=False))
    if told:
        await _record(conn, settings, now, scope, (lead["id"], lead["data"]), told, stock)
        await conn.execute(_TOLD, lead["id"], len(told))
    if len(wins) < budget or len(subs) < len(wins):  # units or subscribers ran out
        await conn.execute(_DONE, [t["id"] for t in triggers], now)
    return len(told)


async def send_pass(
    conn: Conn,
    availability: Availability,
    settings: AlertSettings,
    now: datetime,
    sends_max: int = SENDS_PER_PASS_MAX,
) -> int:
    """One bounded pass over the pending triggers; returns the notifications recorded."""
    sent = 0
    async with conn.transaction():
        by_scope: dict[Scope, list[asyncpg.Record]] = defaultdict(list)
        for row in await conn.fetch(_PENDING, TRIGGERS_PER_PASS_MAX):
            by_scope[(row["sku"], row["location"], row["location_group"], row["channel"])].append(
                row
            )
        for scope, triggers in by_scope.items():
            budget = sends_max - sent
            if budget <= 0:  # the rest in the next pass
                break
            sent += await _send_scope(conn, availability, settings, now, scope, triggers, budget)
    return sent
