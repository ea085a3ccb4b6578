"""Reservations: held ones with their TTL counting down, committed ones by age (oldest
first), as GET /v1/reservations answers the signed-in key (a key bound to stores sees
only reservations at its stores)."""

import time
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ui import web
from ui.calls import call
from ui.session import Session

LISTED_PAGES_MAX: Final = 5  # pages per state (a SCAN: for people, not hot paths)
PAGE_LIMIT: Final = 100
_CREATED = "SELECT id, created_ms FROM reservations WHERE id = ANY($1::text[])"


async def _listed(
    request: Request, signed: Session, state: str, location: str
) -> tuple[list[dict[str, Any]], str]:
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(LISTED_PAGES_MAX):
        query = {"state": state, "limit": PAGE_LIMIT}
        if location:
            query["location"] = location
        if cursor:
            query["cursor"] = cursor
        answer = await call(request, signed.principal, "listReservations", query=query)
        if not answer.ok:
            return [], answer.detail
        found += answer.body["items"]
        cursor = answer.body.get("next_cursor") or ""
        if not cursor:
            break
    return found, ""


async def _ages(request: Request, items: list[dict[str, Any]]) -> None:
    """Each listed reservation's age, from when the journal saw it created (the ledger
    keeps no creation time)."""
    if not items:
        return
    pool = request.app.state.services.pool
    rows = await pool.fetch(_CREATED, [item["id"] for item in items])
    created = {row["id"]: row["created_ms"] for row in rows if row["created_ms"]}
    now_ms = time.time() * 1000
    for item in items:
        at = created.get(item["id"])
        item["created_ms"] = at
        item["age_s"] = None if at is None else max(0, int((now_ms - at) / 1000))


async def _page(request: Request, signed: Session) -> Response:
    location = request.query_params.get("location", "").strip()
    held, problem = await _listed(request, signed, "held", location)
    committed, problem2 = await _listed(request, signed, "committed", location)
    held.sort(key=lambda r: r.get("expires_at") or "")
    await _ages(request, committed)
    committed.sort(key=lambda r: -(r["age_s"] or 0))
    return web.render(
        request,
        "reservations.html",
        signed,
        location=location,
        held=held,
        committed=committed,
        problem=problem or problem2,
    )


page = web.signed_in(_page)
