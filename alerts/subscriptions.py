"""Subscriptions in PostgreSQL: sign up (once per contact, SKU and scope while waiting),
look up, and unsubscribe by id or by the token given at sign-up."""

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import msgspec

from alerts import rules
from alerts.catalog_lookup import check_known
from alerts.limits import SIGN_UP_ATTEMPTS_MAX
from atp.model import Channel
from durability.db import Conn


class Contact(msgspec.Struct, frozen=True, omit_defaults=True):
    email: str | None = None
    phone: str | None = None


class Subscription(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    id: str
    contact: Contact  # as normalised
    sku: str
    location: str | None = None
    group: str | None = None
    channel: Channel
    state: str  # waiting | notified | unsubscribed
    created_at: datetime
    unsubscribe_token: str  # POST /v1/alerts/unsubscribe {token}: for the message's link


@dataclass(frozen=True)
class SignUp:
    """A sign-up as the API decoded it (not yet normalised or checked)."""

    email: str | None
    phone: str | None
    consent_given: bool
    consent_at: datetime
    consent_source: str
    sku: str
    location: str | None
    group: str | None
    channel: Channel


_COLUMNS = (
    "id, contact_kind, contact, sku, location, location_group, channel, state, created_at,"
    " unsubscribe_token"
)
_INSERT = f"""
INSERT INTO alert_subscriptions (id, contact_kind, contact, sku, location, location_group,
    channel, consent_at, consent_source, unsubscribe_token, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (contact_kind, contact, sku, location, location_group, channel)
    WHERE state = 'waiting' DO NOTHING
RETURNING {_COLUMNS}
"""
_WAITING = f"""
SELECT {_COLUMNS} FROM alert_subscriptions
WHERE contact_kind = $1 AND contact = $2 AND sku = $3 AND location = $4
  AND location_group = $5 AND channel = $6 AND state = 'waiting'
"""


def subscription_of(row: asyncpg.Record) -> Subscription:
    kind, value = row["contact_kind"], row["contact"]
    return Subscription(
        id=row["id"],
        contact=Contact(email=value) if kind == "email" else Contact(phone=value),
        sku=row["sku"],
        location=row["location"] or None,
        group=row["location_group"] or None,
        channel=Channel(row["channel"]),
        state=row["state"],
        created_at=row["created_at"],
        unsubscribe_token=row["unsubscribe_token"],
    )


async def subscribe(
    conn: Conn, sign_up: SignUp, now: datetime, created_by: str
) -> tuple[Subscription, bool]:
    """The subscription and whether it is new: the same contact, SKU and scope while one
    is waiting is that one."""
    s = sign_up
    kind, value = rules.contact(s.email, s.phone)
    rules.check_consent(s.consent_given, s.consent_at, now)
    rules.check_scope(s.location, s.group)
    await check_known(conn, s.sku, s.location, s.group)
    scope = (s.sku, s.location or "", s.group or "", s.channel.value)
    for _ in range(SIGN_UP_ATTEMPTS_MAX):  # a waiting one notified in between: insert again
        row = await conn.fetchrow(
            _INSERT,
            "sub_" + uuid.uuid4().hex,
            kind,
            value,
            *scope,
            s.consent_at,
            s.consent_source,
            secrets.token_urlsafe(24),
            created_by,
            now,
        )
        if row is not None:
            return subscription_of(row), True
        row = await conn.fetchrow(_WAITING, kind, value, *scope)
        if row is not None:
            return subscription_of(row), False
    raise RuntimeError("a waiting subscription appeared and ended twice during one sign-up")


async def get(conn: Conn, subscription_id: str) -> Subscription | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM alert_subscriptions WHERE id = $1", subscription_id
    )
    return None if row is None else subscription_of(row)


_UNSUBSCRIBE = f"""
WITH ended AS (
    UPDATE alert_subscriptions SET state = 'unsubscribed', ended_at = $2
    WHERE {{where}} AND state <> 'unsubscribed'
    RETURNING id
), resends AS (  -- no resend to someone who left
    UPDATE alert_sends SET resend_due_at = NULL, resend_skipped = 'unsubscribed'
    WHERE subscription_id IN (SELECT id FROM ended) AND resend_due_at IS NOT NULL
)
SELECT {_COLUMNS} FROM alert_subscriptions WHERE {{where}}
"""
_BY_ID = _UNSUBSCRIBE.format(where="id = $1")
_BY_TOKEN = _UNSUBSCRIBE.format(where="unsubscribe_token = $1")


async def unsubscribe(
    conn: Conn, now: datetime, *, subscription_id: str = "", token: str = ""
) -> Subscription | None:
    """Ends a subscription (and its pending resend) for good; idempotent. None: no such."""
    if subscription_id:
        row = await conn.fetchrow(_BY_ID, subscription_id, now)
    else:
        row = await conn.fetchrow(_BY_TOKEN, token, now)
    if row is None:
        return None
    # The statement's snapshot predates its own update: report the state it left.
    return msgspec.structs.replace(subscription_of(row), state="unsubscribed")
