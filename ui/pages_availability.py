"""Availability: SKUs x locations with on hand, reserved, safety, incoming, ATP and the
next promise date, a total row per SKU, kept live by the changes feed: ui/static/grid.js
follows it and re-reads the grid when one of its SKUs changes. The grid reads Redis
(``consistency: strong``): a change reaches the feed only once durable, so the re-read
includes it."""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from changes.derive import LEDGER_TYPES
from ui import web
from ui.calls import call
from ui.session import Session

GRID_SKUS_MAX: Final = 10
GRID_LOCATIONS_MAX: Final = 40
FIGURES: Final = ("on_hand", "reserved", "safety", "incoming", "atp")
_SPLIT: Final = re.compile(r"[\s,]+")


@dataclass
class Query:
    skus: list[str]
    locations: list[str]
    group: str

    @classmethod
    def of(cls, request: Request) -> "Query":
        params = request.query_params
        skus = [s for s in _SPLIT.split(params.get("skus", "")) if s][:GRID_SKUS_MAX]
        where = [s for s in _SPLIT.split(params.get("locations", "")) if s]
        return cls(skus, where[:GRID_LOCATIONS_MAX], params.get("group", "").strip())


async def _locations(request: Request, signed: Session) -> list[str]:
    """Every location of the catalog (up to the grid's bound) when none is asked."""
    answer = await call(
        request, signed.principal, "listLocations", query={"limit": GRID_LOCATIONS_MAX}
    )
    if not answer.ok:
        return []
    return [item["id"] for item in answer.body["items"]]


async def _promise(request: Request, signed: Session, row: dict[str, Any]) -> str:
    """The next day one unit can be promised there: today while ATP lasts, else the
    engine's promise from incoming supply (none: never)."""
    if row["atp"] > 0:
        return dt.datetime.now(dt.UTC).date().isoformat()
    if row["incoming"] <= 0:
        return ""
    answer = await call(
        request,
        signed.principal,
        "getPromise",
        path={"sku": row["sku"]},
        query={"qty": 1, "location": row["location"]},
    )
    return str(answer.body.get("date") or "") if answer.ok else ""


async def grid(request: Request, signed: Session, query: Query) -> dict[str, Any]:
    """The grid's values, or the problem the API answered."""
    if not query.skus:
        return {"rows": [], "totals": [], "problem": ""}
    body: dict[str, Any] = {"skus": query.skus, "consistency": "strong"}
    if query.group:
        body["group"] = query.group
    else:
        body["locations"] = query.locations or await _locations(request, signed)
        if not body["locations"]:
            return {"rows": [], "totals": [], "problem": "no locations in the catalog"}
    answer = await call(request, signed.principal, "queryAvailability", body=body)
    if not answer.ok:
        return {"rows": [], "totals": [], "problem": answer.detail}
    rows = answer.body["rows"]
    for row in rows:
        row["promise"] = await _promise(request, signed, row)
    group_atp = {t["sku"]: t["atp"] for t in answer.body.get("totals") or []}
    totals = []
    for sku in query.skus:
        mine = [r for r in rows if r["sku"] == sku]
        total = {f: sum(r[f] for r in mine) for f in FIGURES}
        total["atp"] = group_atp.get(sku, total["atp"])
        totals.append({"sku": sku, **total, "oversold": sum(r["oversold"] for r in mine)})
    return {"rows": rows, "totals": totals, "problem": ""}


def _live_url(query: Query) -> str:
    """The feed filtered to this grid's SKUs and position events."""
    params: list[tuple[str, str]] = [("sku", s) for s in query.skus]
    params.append(("types", ",".join(LEDGER_TYPES)))
    return "/ui/live/changes?" + urlencode(params)


async def _page(request: Request, signed: Session) -> Response:
    query = Query.of(request)
    values = await grid(request, signed, query)
    return web.render(
        request,
        "availability.html",
        signed,
        query=query,
        live_url=_live_url(query) if query.skus else "",
        **values,
    )


async def _fragment(request: Request, signed: Session) -> Response:
    """The grid alone, re-read by the live script after a change."""
    values = await grid(request, signed, Query.of(request))
    return web.render(request, "availability_grid.html", signed, **values)


page = web.signed_in(_page)
fragment = web.signed_in(_fragment)
