"""The KPIs the retail documents measure (issue 15): ``GET /v1/kpis`` answers every KPI
(orders/kpi_formulas.py defines each) and the per store and per channel figures for a
period, optionally at one location and on one channel.

Scope ``orders:read``. A key bound to stores reads only its own: it must name one of its
locations (without ``location`` the answer would span other stores, so it is refused, 403
``location-not-allowed``); a key bound to no store reads any location or all of them.
"""

import re
from datetime import datetime
from typing import Final

from api import params
from api.auth import Scope, forbidden
from api.ops import Ctx, Op, Param, Reply
from api.problems import invalid
from atp.clock import instant
from atp.model import Channel
from atp.validate import check_id
from orders import kpis
from orders.kpis import PERIOD_DEFAULT, SPAN_MAX

TAG: Final = "kpis"
ERRORS: Final = frozenset({400, 401, 403, 422, 429})
_RFC3339: Final = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_INSTANT = {"type": "string", "format": "date-time"}


def _instant(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    message = "must be an RFC 3339 date-time with an offset"
    if not _RFC3339.match(raw):
        raise invalid(name, message)
    try:
        return datetime.fromisoformat(raw.upper())
    except ValueError:
        raise invalid(name, message) from None


def _period(ctx: Ctx, now: datetime) -> tuple[datetime, datetime]:
    """``[from, to)``: to defaults to now, from to a week before to."""
    query = ctx.query()
    until = _instant(query.get("to"), "to") or now
    since = _instant(query.get("from"), "from") or until - PERIOD_DEFAULT
    if since >= until:
        raise invalid("from", "must be before to")
    if until - since > SPAN_MAX:
        raise invalid("to", f"the period may span at most {SPAN_MAX.days} days")
    return since, until


def _filters(ctx: Ctx) -> tuple[str | None, str | None]:
    query = ctx.query()
    location = query.get("location")
    if location is not None:
        check_id("location", location)
    channel = query.get("channel")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise invalid("channel", "must be online or store")
    return location, channel


async def _own_stores(ctx: Ctx, _: None) -> None:
    """A key bound to stores reads only one of its stores, named."""
    location = ctx.query().get("location")
    if location is not None:
        ctx.principal.confine([location])
    elif ctx.principal.locations is not None:
        raise forbidden(
            "location-not-allowed",
            "this key is bound to stores: name one of them with location",
        )


async def get_kpis(ctx: Ctx, _: None) -> Reply:
    now = instant(ctx.services.engine.reservations.clock)
    since, until = _period(ctx, now)
    location, channel = _filters(ctx)
    async with ctx.services.pool.acquire() as conn:
        found = await kpis.gather(
            conn, since=since, until=until, now=now, location=location, channel=channel
        )
    return 200, found


OPS: list[Op] = [
    Op(
        "GET",
        "/v1/kpis",
        "getKpis",
        "The KPIs and per store and channel figures for a period",
        get_kpis,
        Scope.orders_read,
        {200: kpis.Kpis},
        ERRORS,
        params=(
            Param("location", "query", params.id_schema("location"), "one store's figures"),
            Param(
                "channel",
                "query",
                {"type": "string", "enum": [c.value for c in Channel]},
                "one channel's figures",
            ),
            Param("from", "query", _INSTANT, "the period's start (RFC 3339); to minus 7 days"),
            Param("to", "query", _INSTANT, "the period's end, excluded (RFC 3339); now"),
        ),
        tag=TAG,
        description=(
            "Each KPI with its value (null when there is nothing to measure), unit, target, "
            "the documents' formula and its counts; per store and per channel: orders, "
            f"revenue, returns rate, oversells, split-shipment rate. At most {SPAN_MAX.days} "
            "days. A key bound to stores must name one of its locations."
        ),
        lane=_own_stores,
    ),
]
