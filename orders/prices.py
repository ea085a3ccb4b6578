"""SKU prices, versioned in PostgreSQL (migrations/0013_prices.sql; rules in
orders/price_rules.py): one answer for every channel at an instant.

A save that changes a SKU's price records version n+1, in force from now (its
``valid_from``, the engine's clock: atp/clock.py); saving what is already in force answers that
version, so a retried PUT never makes two. Saves of one SKU are serialised by a
transaction-scoped advisory lock, so versions and their ``valid_from`` rise together.
Each new version publishes a ``price.changed`` webhook event in the same transaction.

Orders and register sales keep the price they were sold at (their own rows); they call
``check_sale`` with it, which compares it with the price in force when sold and records a
mismatch row when they differ. ``mismatches`` counts those rows for the KPI.
"""

from datetime import datetime
from decimal import Decimal
from typing import Final, cast

import asyncpg
import msgspec

from catalog.known import unknown_ids
from durability.db import Conn
from orders.price_rules import Flaw, Promotion, Refusal, Terms, matches, same_currency
from webhooks import outbox

PRICE_CHANGED: Final = "price.changed"  # the webhook event type (webhooks/types.py: lead)
LOCK_SPACE: Final = 15_013  # advisory lock key space of price saves (issue 15, 0013)
HISTORY_MAX: Final = 200  # versions one history page may list

_COLUMNS = """sku, version, list_price, currency, promotion_price, promotion_from,
promotion_to, valid_from, created_by"""
_LOCK = "SELECT pg_advisory_xact_lock($1, hashtext($2))"
_CURRENT = f"SELECT {_COLUMNS} FROM prices WHERE sku = $1 ORDER BY version DESC LIMIT 1"
# valid_from never goes back (a clock step back would reorder versions).
_INSERT = f"""
INSERT INTO prices (sku, version, list_price, currency, promotion_price, promotion_from,
                    promotion_to, valid_from, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, greatest($10::timestamptz, $8::timestamptz), $9)
RETURNING {_COLUMNS}
"""
_AT = f"""
SELECT x.at, p.* FROM (SELECT $2::timestamptz AS at) x
LEFT JOIN LATERAL (
    SELECT {_COLUMNS} FROM prices
    WHERE sku = $1 AND valid_from <= x.at ORDER BY valid_from DESC, version DESC LIMIT 1
) p ON true
"""
_HISTORY = f"SELECT {_COLUMNS} FROM prices WHERE sku = $1 ORDER BY version DESC LIMIT $2"
_MISMATCH = """
INSERT INTO price_mismatches (sale_ref, sku, channel, location, sold_price, sold_currency,
                              price, currency, price_version, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (sale_ref, sku) DO NOTHING
"""
_COUNT = """
SELECT count(*) FROM price_mismatches
WHERE at >= $1 AND at < $2 AND ($3::text IS NULL OR location = $3)
  AND ($4::text IS NULL OR channel = $4)
"""


class PriceVersion(msgspec.Struct, frozen=True):
    sku: str
    version: int
    terms: Terms
    valid_from: datetime
    created_by: str = ""

    def to_dict(self) -> dict[str, object]:
        """The webhook event's data (money as strings: exact)."""
        promo = self.terms.promotion
        return {
            "sku": self.sku,
            "version": self.version,
            "currency": self.terms.currency,
            "list_price": str(self.terms.list_price),
            "promotion": None
            if promo is None
            else {
                "price": str(promo.price),
                "from": promo.start.isoformat(),
                "to": promo.end.isoformat(),
            },
            "valid_from": self.valid_from.isoformat(),
        }


def _version(row: asyncpg.Record) -> PriceVersion:
    promo = None
    if row["promotion_price"] is not None:
        promo = Promotion(row["promotion_price"], row["promotion_from"], row["promotion_to"])
    terms = Terms(row["list_price"], row["currency"], promo)
    return PriceVersion(row["sku"], row["version"], terms, row["valid_from"], row["created_by"])


async def save(
    conn: Conn, sku: str, terms: Terms, by: str, now: datetime
) -> tuple[bool, PriceVersion]:
    """(created, the version in force): a new version in force from ``now`` (the engine's
    clock), or the current one when it already says exactly this. Raises ``Refusal``
    (nothing stored) for a SKU the catalog does not list or a currency other than the SKU's."""
    raw = cast(asyncpg.Connection, conn)  # a pool proxy is a connection to these
    if await unknown_ids(raw, "sku", [sku]):
        raise Refusal([Flaw("sku", f"the catalog lists no SKU {sku}")])
    async with conn.transaction():
        await conn.execute(_LOCK, LOCK_SPACE, sku)
        row = await conn.fetchrow(_CURRENT, sku)
        current = None if row is None else _version(row)
        if current is not None:
            if current.terms == terms:
                return False, current
            same_currency(terms, current.terms.currency)
        promo = terms.promotion
        row = await conn.fetchrow(
            _INSERT,
            sku,
            1 if current is None else current.version + 1,
            terms.list_price,
            terms.currency,
            None if promo is None else promo.price,
            None if promo is None else promo.start,
            None if promo is None else promo.end,
            None if current is None else current.valid_from,
            by,
            now,
        )
        assert row is not None
        saved = _version(row)
        await outbox.publish(raw, PRICE_CHANGED, saved.to_dict(), sku=sku)
    return True, saved


async def in_force(conn: Conn, sku: str, at: datetime) -> tuple[datetime, PriceVersion | None]:
    """(the instant, the version in force then, if any)."""
    row = await conn.fetchrow(_AT, sku, at)
    assert row is not None
    return row["at"], None if row["version"] is None else _version(row)


async def history(conn: Conn, sku: str, limit: int = HISTORY_MAX) -> list[PriceVersion]:
    """Newest first."""
    return [_version(r) for r in await conn.fetch(_HISTORY, sku, min(limit, HISTORY_MAX))]


class SaleCheck(msgspec.Struct, frozen=True):
    matched: bool  # sold at the price in force then (or the SKU had none then)
    currency: str | None  # the sale's: as given, else the SKU's then; None: no price then


async def check_sale(
    conn: Conn,
    *,
    sku: str,
    channel: str,
    where: str,
    location: str | None,
    sold_price: Decimal,
    currency: str | None,
    at: datetime,
) -> SaleCheck:
    """Whether ``sold_price`` is the price in force at ``at`` (``matched``) and the currency
    the sale was in; when not, records a mismatch (once per ``where`` and SKU: a retry
    counts once). A SKU with no price at ``at`` has nothing to differ from: a match.
    ``currency`` None: the sale carries none (orders do not yet), so it is the SKU's."""
    _, found = await in_force(conn, sku, at)
    if found is None:
        return SaleCheck(True, currency)
    price = found.terms.price_at(at)
    currency = found.terms.currency if currency is None else currency
    if matches(sold_price, currency, price, found.terms.currency):
        return SaleCheck(True, currency)
    await conn.execute(
        _MISMATCH,
        where,
        sku,
        channel,
        location,
        sold_price,
        currency,
        price,
        found.terms.currency,
        found.version,
        at,
    )
    return SaleCheck(False, currency)


async def forget_sale(conn: Conn, where: str) -> None:
    """A sale cancelled (a register's void): it was no sale, so no mismatch either."""
    await conn.execute("DELETE FROM price_mismatches WHERE sale_ref = $1", where)


async def mismatches(
    conn: Conn,
    *,
    since: datetime,
    until: datetime,
    location: str | None = None,
    channel: str | None = None,
) -> int:
    """Sales in ``[since, until)`` recorded at another price than the one in force."""
    count: int = await conn.fetchval(_COUNT, since, until, location, channel)
    return count
