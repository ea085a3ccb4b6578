"""What every page shares: the templates, the signed-in guard, CSRF-checked actions,
security headers and the error page."""

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.ops import KEY_ID
from ui import assets, csrf, session
from ui.calls import allows
from ui.session import Session

SIGN_IN: Final = "/ui/sign-in"
NOTE_LENGTH_MAX: Final = 200  # what an action reports back on the page it returns to
# Scripts and styles only from this origin (no inline script, no CDN); nothing framed.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# (label, path, the operation whose scope it needs): the navigation follows the key.
NAV: Final = (
    ("Availability", "/ui/availability", "queryAvailability"),
    ("Live feed", "/ui/feed", "streamChanges"),
    ("Store", "/ui/store", "listStorePickups"),
    ("Reservations", "/ui/reservations", "listReservations"),
    ("KPIs", "/ui/kpis", "getKpis"),
)

Page = Callable[[Request, Session], Awaitable[Response]]
Action = Callable[[Request, Session, FormData], Awaitable[Response]]


@functools.cache
def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset"] = assets.url
    return env


def render(
    request: Request, name: str, signed: Session | None, status: int = 200, **values: Any
) -> HTMLResponse:
    nav = []
    if signed is not None:
        nav = [(label, path) for label, path, op in NAV if allows(signed.principal, op)]
    html = (
        templates()
        .get_template(name)
        .render(
            session=signed,
            nav=nav,
            here=request.url.path,
            csrf_field=csrf.FIELD,
            note=request.query_params.get("note", "")[:NOTE_LENGTH_MAX],
            **values,
        )
    )
    return HTMLResponse(html, status, HEADERS)


def error(request: Request, signed: Session | None, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", signed, status, status_code=status, detail=detail)


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    return RedirectResponse(f"{SIGN_IN}?next={quote(target, safe='')}", 303, HEADERS)


async def signed(request: Request) -> Session | None:
    """The request's session, if any; its key id goes in the access log as /v1's does."""
    found = await session.find(request.app.state.services.pool, request)
    if found is not None:
        request.scope[KEY_ID] = found.principal.key_id
    return found


def signed_in(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page for a signed-in key; anyone else is sent to sign in first."""

    @functools.wraps(handler)
    async def page(request: Request) -> Response:
        found = await signed(request)
        if found is None:
            return _to_sign_in(request)
        return await handler(request, found)

    return page


def action(handler: Action) -> Callable[[Request], Awaitable[Response]]:
    """A POST of a page's form: a session, and its CSRF token in the form, or 403."""

    @functools.wraps(handler)
    async def post(request: Request) -> Response:
        found = await signed(request)
        if found is None:
            return _to_sign_in(request)
        try:
            form = await csrf.checked_form(request, found.csrf_token)
        except csrf.CsrfRefused as exc:
            return error(request, found, 403, f"Refused: {exc}. Reload the page and try again.")
        return await handler(request, found, form)

    return post


def back(path: str, note: str = "") -> RedirectResponse:
    """After an action: the page again (POST, redirect, GET), with what happened."""
    suffix = "" if not note else ("&" if "?" in path else "?") + "note=" + quote(note, safe="")
    return RedirectResponse(path + suffix, 303, HEADERS)
