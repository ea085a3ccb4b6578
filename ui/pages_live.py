"""The live parts: the changes feed for the page's scripts, and the feed page.

``/ui/live/changes`` is GET /v1/changes itself, run for the session's key (ui/calls.py):
a browser's EventSource cannot send an Authorization header but does send the session
cookie, so the page needs no second way into /v1 and the feed's filters, resume
(Last-Event-ID), limits and scope check stay the API's.
"""

from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from changes.derive import FEED_TYPES
from ui import web
from ui.calls import call
from ui.session import Session

# What the feed page highlights, by type; the label is text, never color alone.
HIGHLIGHTS: Final = {
    "oversold": "OVERSOLD",
    "reservation_moved": "RE-SOURCED",
    "went_unavailable": "UNAVAILABLE",
    "low_stock": "LOW",
    "back_in_stock": "BACK IN STOCK",
}
FEED_PARAMS: Final = ("sku", "location", "group", "types")


async def changes(request: Request) -> Response:
    found = await web.signed(request)
    if found is None:  # a script, not a person: no redirect to the sign-in form
        return PlainTextResponse("signed out", 401, {"Cache-Control": "no-store"})
    answer = await call(
        request,
        found.principal,
        "streamChanges",
        query=[(k, v) for k, v in request.query_params.multi_items() if k in FEED_PARAMS],
        last_event_id=request.headers.get("last-event-id", ""),
    )
    return answer.response


async def _feed(request: Request, signed: Session) -> Response:
    params = request.query_params
    chosen = {name: params.get(name, "").strip() for name in FEED_PARAMS}
    query = [(k, v) for k, v in chosen.items() if v]

    return web.render(
        request,
        "feed.html",
        signed,
        chosen=chosen,
        types=FEED_TYPES,
        highlights=HIGHLIGHTS,
        live_url="/ui/live/changes?" + urlencode(query),
    )


feed = web.signed_in(_feed)
