"""KPIs: a tile per KPI of GET /v1/kpis (orders/kpi_formulas.py defines each) with its
value over the last week and a small chart of each of the last days, per store and
channel (the filters are /v1/kpis' own); then the per store and per channel figures."""

import datetime as dt
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ui import web
from ui.calls import call
from ui.charts import spark
from ui.session import Session

SERIES_DAYS: Final = 7  # one point a day in each tile's chart


def _instant(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def _kpis(request: Request, signed: Session, filters: dict[str, str], since: dt.datetime,
                until: dt.datetime) -> Any:  # fmt: skip
    query = {**filters, "from": _instant(since), "to": _instant(until)}
    return await call(request, signed.principal, "getKpis", query=query)


def _filters(request: Request, signed: Session) -> dict[str, str]:
    params = request.query_params
    chosen = {k: params.get(k, "").strip() for k in ("location", "channel")}
    bound = signed.principal.locations
    if not chosen["location"] and bound:  # a store's key reads its own store, named
        chosen["location"] = sorted(bound)[0]
    return {k: v for k, v in chosen.items() if v}


async def _page(request: Request, signed: Session) -> Response:
    filters = _filters(request, signed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    week = await _kpis(request, signed, filters, now - dt.timedelta(days=SERIES_DAYS), now)
    if not week.ok:
        return web.error(request, signed, week.status, week.detail)
    today = now.replace(hour=0, minute=0, second=0)
    days = [today - dt.timedelta(days=SERIES_DAYS - 1 - i) for i in range(SERIES_DAYS)]
    series: dict[str, list[float | None]] = {f["name"]: [] for f in week.body["kpis"]}
    for start in days:
        until = min(now, start + dt.timedelta(days=1))
        answer = await _kpis(request, signed, filters, start, until)
        values = {f["name"]: f["value"] for f in answer.body["kpis"]} if answer.ok else {}
        for name, points in series.items():
            points.append(values.get(name))
    tiles = [
        {**figure, "spark": spark(series[figure["name"]]), "days": series[figure["name"]]}
        for figure in week.body["kpis"]
    ]
    return web.render(
        request,
        "kpis.html",
        signed,
        filters=filters,
        tiles=tiles,
        first_day=days[0].date().isoformat(),
        by_store=week.body["by_store"],
        by_channel=week.body["by_channel"],
    )


page = web.signed_in(_page)
