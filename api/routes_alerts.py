"""Back-in-stock alerts over HTTP (alerts/): sign-ups with consent, unsubscribing (by id, or
by the token each sign-up is given), opens reported by the messaging tool, and the
figures. Also the alerts' background worker the lifespan runs (consume, send, resend)."""

import datetime
from typing import Annotated

from msgspec import Meta

from alerts import stats as alert_stats
from alerts import subscriptions
from alerts.catalog_lookup import group_members
from alerts.limits import (
    CONSENT_SOURCE_LENGTH_MAX,
    EMAIL_LENGTH_MAX,
    PHONE_TEXT_LENGTH_MAX,
    UNSUBSCRIBE_TOKEN_LENGTH_MAX,
)
from alerts.settings import AlertSettings, wall_clock
from alerts.subscriptions import SignUp, Subscription
from alerts.worker import AlertsWorker
from api import lanes, params
from api.auth import Scope, forbidden
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError
from api.schemas import GroupId, LocationId, Request, SkuId
from api.wiring import Services
from atp.clock import Clock
from atp.model import Channel
from atp.validate import check_id

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429})
TAG = "alerts"


class ContactIn(Request, frozen=True):
    """Exactly one of them. Stored normalised: an email trimmed and lower-cased, a phone
    as + and digits (international format required)."""

    email: (
        Annotated[str, Meta(max_length=EMAIL_LENGTH_MAX, examples=["kari@example.no"])] | None
    ) = None
    phone: (
        Annotated[str, Meta(max_length=PHONE_TEXT_LENGTH_MAX, examples=["+47 912 34 567"])] | None
    ) = None


class ConsentIn(Request, frozen=True):
    given: Annotated[bool, Meta(description="must be true: no alert without consent")]
    at: datetime.datetime  # when the customer gave it (with a time zone)
    source: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=CONSENT_SOURCE_LENGTH_MAX,
            pattern=r"^[^\x00-\x1f\x7f]+$",  # no control characters
            examples=["pdp-form"],
        ),
    ]


class SubscribeBody(Request, frozen=True):
    contact: ContactIn
    consent: ConsentIn
    sku: SkuId
    location: LocationId | None = None  # one of location and group
    group: GroupId | None = None
    channel: Channel = Channel.online  # whose availability counts: online or the store counter


class UnsubscribeBody(Request, frozen=True):
    token: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=UNSUBSCRIBE_TOKEN_LENGTH_MAX,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="from the sign-up",
        ),
    ]


def _now(ctx: Ctx) -> datetime.datetime:
    """The alerts' clock (the engine's: tests drive it), kept by the lifespan's worker."""
    alerts: AlertsWorker = ctx.request.app.state.alerts
    return alerts.now()


def _not_found(what: str, value: str) -> ApiError:
    return ApiError(404, f"{what}-not-found", f"No such {what.replace('-', ' ')}", value)


async def _confine_scope(ctx: Ctx, location: str | None, group: str | None) -> None:
    """A key bound to stores signs up (or ends sign-ups) only at its own locations: at one
    of them, or over a group all of whose members are its own."""
    if location is not None:
        ctx.principal.confine([location])
        return
    if ctx.principal.locations is None or group is None:
        return
    async with ctx.services.pool.acquire() as conn:
        members = await group_members(conn, group)
    if not members:
        raise forbidden("location-not-allowed", f"group {group} has no members this key may use")
    ctx.principal.confine(members)


async def _body_scope(ctx: Ctx, body: SubscribeBody) -> None:
    await _confine_scope(ctx, body.location, body.group)


async def _subscription_scope(ctx: Ctx, _: None) -> None:
    if ctx.principal.locations is None:
        return
    async with ctx.services.pool.acquire() as conn:
        found = await subscriptions.get(conn, ctx.path("subscription_id"))
    if found is not None:  # an unknown id passes: the route answers 404
        await _confine_scope(ctx, found.location, found.group)


async def subscribe(ctx: Ctx, body: SubscribeBody) -> Reply:
    sign_up = SignUp(
        body.contact.email,
        body.contact.phone,
        body.consent.given,
        body.consent.at,
        body.consent.source,
        body.sku,
        body.location,
        body.group,
        body.channel,
    )
    async with ctx.services.pool.acquire() as conn:
        found, created = await subscriptions.subscribe(
            conn, sign_up, _now(ctx), ctx.principal.key_id
        )
    return (201 if created else 200), found


async def get_subscription(ctx: Ctx, _: None) -> Reply:
    subscription_id = ctx.path("subscription_id")
    async with ctx.services.pool.acquire() as conn:
        found = await subscriptions.get(conn, subscription_id)
    if found is None:
        raise _not_found("subscription", f"no subscription has the id {subscription_id}")
    return 200, found


async def unsubscribe(ctx: Ctx, _: None) -> Reply:
    subscription_id = ctx.path("subscription_id")
    async with ctx.services.pool.acquire() as conn:
        found = await subscriptions.unsubscribe(conn, _now(ctx), subscription_id=subscription_id)
    if found is None:
        raise _not_found("subscription", f"no subscription has the id {subscription_id}")
    return 200, found


async def unsubscribe_by_token(ctx: Ctx, body: UnsubscribeBody) -> Reply:
    async with ctx.services.pool.acquire() as conn:
        found = await subscriptions.unsubscribe(conn, _now(ctx), token=body.token)
    if found is None:
        raise _not_found("subscription", "no subscription has that unsubscribe token")
    return 200, found


async def opened(ctx: Ctx, _: None) -> Reply:
    send_id = ctx.path("send_id")
    async with ctx.services.pool.acquire() as conn:
        found = await alert_stats.opened(conn, send_id, _now(ctx))
    if found is None:
        raise _not_found("alert-send", f"no alert send has the id {send_id}")
    return 200, found


async def get_stats(ctx: Ctx, _: None) -> Reply:
    sku = ctx.query().get("sku")
    if sku is not None:
        check_id("sku", sku)
    async with ctx.services.pool.acquire() as conn:
        return 200, await alert_stats.stats(conn, sku)


def background(services: Services, clock: Clock | None, settings: AlertSettings) -> AlertsWorker:
    """The alerts' worker for this process (started and stopped by the lifespan)."""
    return AlertsWorker(
        services.pool,
        services.engine.availability,
        settings,
        wall_clock(clock),
        lambda: services.ledger_ready,
    )


_SUBSCRIPTION_ID = Param(
    "subscription_id", "path", params.ID_SCHEMA, "the subscription's id", required=True
)
_SEND_ID = Param("send_id", "path", params.ID_SCHEMA, "the alert send's id", required=True)

OPS = [
    Op(
        "POST",
        "/v1/alerts/subscriptions",
        "subscribeAlert",
        "Sign a contact up for a back-in-stock alert (the same contact, SKU and scope: 200)",
        subscribe,
        Scope.alerts_write,
        {201: Subscription, 200: Subscription},
        ERRORS,
        body=SubscribeBody,
        tag=TAG,
        lane=_body_scope,
    ),
    Op(
        "GET",
        "/v1/alerts/subscriptions/{subscription_id}",
        "getAlertSubscription",
        "A subscription: its scope and state (waiting, notified or unsubscribed)",
        get_subscription,
        Scope.alerts_write,
        {200: Subscription},
        frozenset({400, 401, 403, 404, 422, 429}),
        params=(_SUBSCRIPTION_ID,),
        tag=TAG,
        lane=_subscription_scope,
    ),
    Op(
        "DELETE",
        "/v1/alerts/subscriptions/{subscription_id}",
        "unsubscribeAlert",
        "End a subscription (and its pending resend); idempotent",
        unsubscribe,
        Scope.alerts_write,
        {200: Subscription},
        ERRORS | {404},
        params=(_SUBSCRIPTION_ID,),
        tag=TAG,
        lane=_subscription_scope,
    ),
    Op(
        "POST",
        "/v1/alerts/unsubscribe",
        "unsubscribeAlertByToken",
        "End a subscription with the token its sign-up returned (a message's unsubscribe link)",
        unsubscribe_by_token,
        Scope.alerts_write,
        {200: Subscription},
        ERRORS | {404},
        body=UnsubscribeBody,
        tag=TAG,
        lane=lanes.anywhere,  # the token is the proof; it acts on no stock
    ),
    Op(
        "POST",
        "/v1/alerts/sends/{send_id}/opened",
        "recordAlertOpened",
        "Record that an alert send was opened (no resend then)",
        opened,
        Scope.alerts_write,
        {200: alert_stats.Opened},
        ERRORS | {404},
        params=(_SEND_ID,),
        tag=TAG,
        lane=lanes.anywhere,  # acts on no stock and no location
    ),
    Op(
        "GET",
        "/v1/alerts/stats",
        "getAlertStats",
        "Alert sends, opens, resends and orders_from_alerts_48h / alert_sends",
        get_stats,
        Scope.alerts_write,
        {200: alert_stats.Stats},
        frozenset({400, 401, 403, 422, 429}),
        params=(Param("sku", "query", params.id_schema("sku"), "one SKU's figures"),),
        tag=TAG,
        lane=lanes.anywhere,
    ),
]
