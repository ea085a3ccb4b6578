"""Signing in with an API key, signing out, and the landing page."""

from typing import Final

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.auth import ANONYMOUS
from api.problems import ApiError
from ui import csrf, session, web
from ui.calls import allows
from ui.session import Session

KEY_LENGTH_MAX: Final = 256  # atp_<id>_<secret> is well under this
SIGN_IN_COOKIE_S: Final = 3600  # the sign-in form's own CSRF value lives this long


def _next(raw: object) -> str:
    """Only a page of this site: never another host (an open redirect)."""
    if isinstance(raw, str) and raw.startswith("/ui/") and "//" not in raw and "\\" not in raw:
        return raw
    return "/ui/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form(request: Request, detail: str = "", status: int = 200) -> Response:
    token = csrf.new_token()
    response = web.render(
        request,
        "sign_in.html",
        None,
        status,
        token=token,
        next=_next(request.query_params.get("next")),
        detail=detail,
    )
    response.set_cookie(
        csrf.SIGN_IN_COOKIE,
        token,
        max_age=SIGN_IN_COOKIE_S,
        path=web.SIGN_IN,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


async def sign_in_page(request: Request) -> Response:
    return _form(request)


async def sign_in(request: Request) -> Response:
    try:
        form = await csrf.checked_form(request, request.cookies.get(csrf.SIGN_IN_COOKIE))
    except csrf.CsrfRefused as exc:
        return web.error(request, None, 403, f"Refused: {exc}. Reload the sign-in page.")
    key = form.get("api_key")
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_LENGTH_MAX:
        return _form(request, "Enter an API key.", 401)
    services = request.app.state.services
    try:  # the API's own check of a key: the same answer /v1 would give it
        principal = await services.auth.authenticate(f"Bearer {key.strip()}")
    except ApiError as exc:
        return _form(request, f"Not signed in: {exc.detail}.", 401)
    if principal.key_id == ANONYMOUS.key_id:  # ATP_AUTH=off: no key row to act as
        return _form(request, "This server runs without API keys: the page needs them.", 409)
    previous = await session.find(services.pool, request)
    if previous is not None:  # one browser, one session: the one it had ends here
        await session.end(services.pool, previous)
    token = await session.open_session(services.pool, principal)
    response = RedirectResponse(_next(form.get("next")), 303, web.HEADERS)
    session.set_cookie(response, token, _secure(request))
    response.delete_cookie(csrf.SIGN_IN_COOKIE, path=web.SIGN_IN)
    return response


async def _sign_out(request: Request, signed: Session, form: FormData) -> Response:
    await session.end(request.app.state.services.pool, signed)
    response = web.back(web.SIGN_IN, "Signed out.")
    session.clear_cookie(response, _secure(request))
    return response


sign_out = web.action(_sign_out)


async def _home(request: Request, signed: Session) -> Response:
    for _, path, op in web.NAV:
        if allows(signed.principal, op):
            return RedirectResponse(path, 303, web.HEADERS)
    return web.error(request, signed, 403, "This key may read none of the page's views.")


home = web.signed_in(_home)
