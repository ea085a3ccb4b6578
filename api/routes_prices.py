"""Prices: one answer for every channel at an instant (orders/prices.py, rules in
orders/price_rules.py). Set a SKU's price (a new version when it changes), read the one in
force at an instant, list its versions.

Reading prices takes ``availability:read``, from any key, and has no channel parameter:
every channel gets the same answer. Setting one takes ``catalog:write``, and prices are
chain-wide: a key bound to stores may read them but never change them."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from msgspec import Meta, field

from api import lanes, params
from api.auth import Scope, forbidden
from api.ops import Ctx, Op, Param, Reply
from api.problems import ApiError, FieldError, invalid
from api.schemas import Request, Response, SkuId
from atp.clock import instant
from orders import prices
from orders.price_rules import Promotion, Refusal, check, instant_flaw
from orders.prices import HISTORY_MAX, PriceVersion

ERRORS = frozenset({400, 401, 403, 413, 415, 422, 429})
READ_ERRORS = frozenset({401, 403, 404, 422, 429})
HISTORY_DEFAULT = 50
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")

Money = Annotated[
    Decimal,
    Meta(
        description="at most 2 decimal places, 0 or more (a string or a number)",
        examples=["249.00"],
    ),
]
Currency = Annotated[
    str, Meta(max_length=8, description="ISO 4217: three capital letters", examples=["NOK"])
]


class PromotionBody(Request, frozen=True):
    price: Annotated[Money, Meta(description="at most the list price")]
    from_: Annotated[datetime, Meta(description="RFC 3339; the promotion applies from it")] = field(
        name="from"
    )
    to: Annotated[datetime, Meta(description="RFC 3339, after from; it applies until then")]


class PriceBody(Request, frozen=True):
    list_price: Money
    currency: Currency
    promotion: PromotionBody | None = None


class PromotionOut(Response, frozen=True):
    price: Decimal
    from_: datetime = field(name="from")
    to: datetime

    @classmethod
    def of(cls, p: Promotion | None) -> "PromotionOut | None":
        return None if p is None else cls(p.price, p.start, p.end)


class PriceOut(Response, frozen=True):
    """A version: what a PUT recorded (or found already in force), and a history item."""

    sku: SkuId
    version: int
    currency: str
    list_price: Decimal
    promotion: PromotionOut | None
    valid_from: datetime  # in force from then until the next version's valid_from
    created_by: str

    @classmethod
    def of(cls, v: PriceVersion) -> "PriceOut":
        t = v.terms
        promo = PromotionOut.of(t.promotion)
        return cls(v.sku, v.version, t.currency, t.list_price, promo, v.valid_from, v.created_by)


class PriceAt(Response, frozen=True):
    sku: SkuId
    currency: str
    list_price: Decimal
    price: Annotated[Decimal, Meta(description="the one that applies at `at`")]
    promotion: Annotated[PromotionOut | None, Meta(description="the promotion active at `at`")]
    version: int
    at: datetime


class PriceHistory(Response, frozen=True):
    sku: SkuId
    items: list[PriceOut]  # newest first


def _refused(refusal: Refusal) -> ApiError:
    first = refusal.flaws[0]
    errors = [FieldError(f.field, f.message) for f in refusal.flaws]
    return ApiError(
        422, "invalid-input", "Invalid input", f"{first.field}: {first.message}", errors=errors
    )


def _at(ctx: Ctx) -> datetime | None:
    raw = ctx.query().get("at")
    if raw is None:
        return None
    if not _RFC3339.match(raw):
        raise invalid("at", "must be an RFC 3339 date-time with an offset")
    try:
        at = datetime.fromisoformat(raw.upper())
    except ValueError:
        raise invalid("at", "must be an RFC 3339 date-time with an offset") from None
    flaw = instant_flaw(at)
    if flaw is not None:
        raise invalid("at", flaw)
    return at


async def chain_wide(ctx: Any, body: Any) -> None:
    """Prices hold at every store: a key bound to stores may not change them."""
    if ctx.principal.locations is not None:
        raise forbidden(
            "location-not-allowed",
            "prices are chain-wide and this key is bound to stores: "
            "a key for every location changes them",
        )


def _now(ctx: Ctx) -> datetime:
    return instant(ctx.services.engine.reservations.clock)


async def put(ctx: Ctx, body: PriceBody) -> Reply:
    sku, promo = ctx.path("sku"), body.promotion
    try:
        terms = check(
            body.list_price,
            body.currency,
            None if promo is None else (promo.price, promo.from_, promo.to),
        )
        async with ctx.services.pool.acquire() as conn:
            created, saved = await prices.save(conn, sku, terms, ctx.principal.key_id, _now(ctx))
    except Refusal as refusal:
        raise _refused(refusal) from None
    return (201 if created else 200), PriceOut.of(saved)


async def get(ctx: Ctx, _: None) -> Reply:
    sku, at = ctx.path("sku"), _at(ctx) or _now(ctx)
    async with ctx.services.pool.acquire() as conn:
        instant, found = await prices.in_force(conn, sku, at)
    if found is None:
        raise ApiError(
            404,
            "price-not-found",
            "No price",
            f"{sku} had no price at {instant.isoformat()}",
        )
    t = found.terms
    active = PromotionOut.of(t.promotion_at(instant))
    return 200, PriceAt(
        sku, t.currency, t.list_price, t.price_at(instant), active, found.version, instant
    )


async def history(ctx: Ctx, _: None) -> Reply:
    sku = ctx.path("sku")
    limit = params.integer(ctx.query(), "limit", HISTORY_DEFAULT, 1, HISTORY_MAX)
    async with ctx.services.pool.acquire() as conn:
        found = await prices.history(conn, sku, limit)
    return 200, PriceHistory(sku, [PriceOut.of(v) for v in found])


_SKU = params.path_id("sku", "the SKU")
_AT = Param("at", "query", {"type": "string", "format": "date-time"}, "RFC 3339 (default: now)")
_LIMIT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": HISTORY_MAX}
TAG = "prices"

OPS = [
    Op(
        "PUT",
        "/v1/prices/{sku}",
        "setPrice",
        "Set a SKU's price (a new version in force from now; the same price again is a no-op)",
        put,
        Scope.catalog_write,
        {200: PriceOut, 201: PriceOut},
        ERRORS,
        body=PriceBody,
        params=(_SKU,),
        idempotent=True,
        tag=TAG,
        lane=chain_wide,
    ),
    Op(
        "GET",
        "/v1/prices/{sku}",
        "getPrice",
        "The price in force at an instant: one answer for every channel",
        get,
        Scope.availability_read,
        {200: PriceAt},
        READ_ERRORS,
        params=(_SKU, _AT),
        tag=TAG,
        lane=lanes.anywhere,
    ),
    Op(
        "GET",
        "/v1/prices/{sku}/history",
        "getPriceHistory",
        "A SKU's price versions, newest first",
        history,
        Scope.availability_read,
        {200: PriceHistory},
        READ_ERRORS,
        params=(_SKU, Param("limit", "query", _LIMIT, f"versions (default {HISTORY_DEFAULT})")),
        tag=TAG,
        lane=lanes.anywhere,
    ),
]
