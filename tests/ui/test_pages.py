"""The page without a browser (httpx on the served app in-process): sign-in, CSRF, what a
key's scopes and stores let it see and do, the content-hashed assets, /docs offline."""

import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from support.harness import Api
from support.ui_world import ORDER, csrf_of, page_app, place_order, sign_in
from ui import assets
from ui.session import COOKIE

CDN = re.compile(r"https?://(?!127\.0\.0\.1|localhost)", re.IGNORECASE)


@pytest.fixture
async def site(redis_url: str, db: asyncpg.Pool, pg_dsn: str) -> AsyncIterator[Api]:
    async with page_app(redis_url, pg_dsn, db) as api:
        yield api


async def test_a_bad_key_is_refused_with_the_reason_shown(site: Api) -> None:
    r = await sign_in(site.client, "atp_nosuchkey_secret")
    assert r.status_code == 401
    assert "unknown or revoked API key" in r.text
    assert COOKIE not in site.client.cookies
    assert (await site.client.get("/ui/availability")).status_code == 303  # to sign in


async def test_sign_in_sets_an_httponly_samesite_cookie_and_follows_next(site: Api) -> None:
    r = await sign_in(site.client, site.keys["admin"], "/ui/availability?skus=A")
    assert r.status_code == 303 and r.headers["location"] == "/ui/availability?skus=A"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    page = await site.client.get("/ui/availability", params={"skus": "A"})
    assert page.status_code == 200
    assert "S1" in page.text and "Total" in page.text
    stored = await site.services.pool.fetchval("SELECT token_digest FROM ui_sessions")
    assert stored != site.client.cookies[COOKIE]  # only its hash is kept


async def test_sign_in_refuses_a_form_without_its_csrf_value(site: Api) -> None:
    await site.client.get("/ui/sign-in")
    r = await site.client.post(
        "/ui/sign-in", data={"csrf_token": "forged", "api_key": site.keys["admin"]}
    )
    assert r.status_code == 403
    assert COOKIE not in site.client.cookies


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(site: Api) -> None:
    await place_order(site.client, site.keys["admin"])
    await sign_in(site.client, site.keys["pos"])
    step = f"/ui/store/S1/orders/{ORDER}/staged"
    for data in ({}, {"csrf_token": "wrong"}):
        r = await site.client.post(step, data=data)
        assert r.status_code == 403, r.text
    order = await site.call("GET", f"/v1/orders/{ORDER}")
    assert order.json()["state"] == "confirmed"  # nothing was done
    page = await site.client.get("/ui/store/S1")
    r = await site.client.post(step, data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert (await site.call("GET", f"/v1/orders/{ORDER}")).json()["state"] == "staged"


async def test_a_key_without_order_scopes_sees_no_store_controls(site: Api) -> None:
    await place_order(site.client, site.keys["admin"])
    await sign_in(site.client, site.keys["reader"])  # availability:read only
    grid = await site.client.get("/ui/availability", params={"skus": "A"})
    assert grid.status_code == 200
    for hidden in ("/ui/store", "/ui/reservations", "/ui/kpis"):
        assert f'href="{hidden}"' not in grid.text
    assert 'href="/ui/feed"' in grid.text
    store = await site.client.get("/ui/store/S1")
    assert store.status_code == 403
    assert "orders:read" in store.text and "data-step" not in store.text


async def test_a_register_sees_its_store_and_not_another(site: Api) -> None:
    await place_order(site.client, site.keys["admin"])
    await sign_in(site.client, site.keys["pos"])  # bound to S1
    mine = await site.client.get("/ui/store/S1")
    assert mine.status_code == 200 and ORDER in mine.text and 'data-step="staged"' in mine.text
    other = await site.client.get("/ui/store/S2")
    assert other.status_code == 403
    assert "bound to S1" in other.text and ORDER not in other.text
    assert (await site.client.get("/ui/store")).headers["location"] == "/ui/store/S1"


async def test_sign_out_ends_the_session_for_good(site: Api) -> None:
    await sign_in(site.client, site.keys["admin"])
    token = site.client.cookies[COOKIE]
    page = await site.client.get("/ui/reservations")
    r = await site.client.post("/ui/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    site.client.cookies.set(COOKIE, token, path="/ui")  # the old cookie, replayed
    assert (await site.client.get("/ui/reservations")).status_code == 303
    assert (await site.client.get("/ui/live/changes")).status_code == 401


async def test_a_revoked_key_ends_its_sessions(site: Api) -> None:
    await sign_in(site.client, site.keys["reader"])
    assert (await site.client.get("/ui/feed")).status_code == 200
    key_id = site.keys["reader"].split("_")[1]
    await site.call("DELETE", f"/v1/keys/{key_id}")
    assert (await site.client.get("/ui/feed")).status_code == 303


async def test_assets_are_content_hashed_and_immutable(site: Api) -> None:
    await sign_in(site.client, site.keys["admin"])
    page = await site.client.get("/ui/availability")
    css = assets.url("ui.css")
    assert css in page.text
    assert re.fullmatch(r"/ui/static/ui\.[0-9a-f]{12}\.css", css)
    r = await site.client.get(css)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = css.replace(css.split(".")[1], "0" * 12)
    assert (await site.client.get(stale)).status_code == 404
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not CDN.search(page.text)


async def test_docs_load_their_files_from_this_server(site: Api) -> None:
    docs = await site.client.get("/docs")
    assert docs.status_code == 200
    assert not CDN.search(docs.text), "a CDN URL in /docs"
    for src in re.findall(r'(?:src|href)="([^"]+)"', docs.text):
        assert (await site.client.get(src)).status_code == 200, src
    assert (await site.client.get("/redoc")).status_code == 404
    openapi = (await site.client.get("/openapi.json")).json()
    assert not [p for p in openapi["paths"] if p.startswith("/ui") or p.startswith("/docs")]


async def test_every_view_renders_for_an_admin_and_for_a_register(site: Api) -> None:
    await place_order(site.client, site.keys["admin"])
    views = ["/ui/availability?skus=A,B&group=", "/ui/feed?sku=A", "/ui/store/S1",
             "/ui/reservations", "/ui/kpis", "/ui/kpis?channel=online", "/ui/store"]  # fmt: skip
    for kind in ("admin", "pos"):
        await sign_in(site.client, site.keys[kind])
        for view in views:
            r = await site.client.get(view)
            assert r.status_code in (200, 303), (kind, view, r.text)
            assert r.headers["cache-control"] == "no-store"
    kpis = await site.client.get("/ui/kpis")
    assert "Pickup on time" in kpis.text and "<svg" in kpis.text


async def test_signing_in_again_ends_the_previous_session(site: Api) -> None:
    await sign_in(site.client, site.keys["admin"])
    first = site.client.cookies[COOKIE]
    await sign_in(site.client, site.keys["reader"])
    assert site.client.cookies[COOKIE] != first
    live = await site.services.pool.fetchval(
        "SELECT count(*) FROM ui_sessions WHERE revoked_at IS NULL"
    )
    assert live == 1


async def test_sign_out_needs_the_sessions_csrf_token(site: Api) -> None:
    await sign_in(site.client, site.keys["admin"])
    r = await site.client.post("/ui/sign-out", data={"csrf_token": "forged"})
    assert r.status_code == 403
    assert (await site.client.get("/ui/reservations")).status_code == 200  # still signed in


# The page's routes a visitor without a session may reach: signing in, the static files.
_OPEN = {("GET", "/ui/sign-in"), ("POST", "/ui/sign-in")}


def _page_routes() -> list[tuple[str, str]]:
    """Every (method, path) of ui/app.py's table, path parameters filled in."""
    from starlette.routing import Route

    from ui.app import ROUTES

    found = []
    for route in ROUTES:
        assert isinstance(route, Route)
        path = re.sub(r"\{[a-z_]+\}", "x", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((method, path))
    return found


async def test_every_page_route_needs_a_session_and_every_post_its_csrf_token(
    site: Api,
) -> None:
    """Enumerated from the route table, so a new page cannot slip past either rule."""
    routes = [r for r in _page_routes() if r not in _OPEN and not r[1].startswith(assets.PREFIX)]
    assert len(routes) > 10  # the table was read
    for method, path in routes:
        r = await site.client.request(method, path)
        # A page sends the visitor to sign in; the live stream (an EventSource) is refused.
        assert r.status_code in (303, 401), (method, path, r.status_code)
        if r.status_code == 303:
            assert r.headers["location"].startswith("/ui/sign-in"), (method, path)
    await sign_in(site.client, site.keys["admin"])
    for method, path in routes:
        if method == "POST":
            r = await site.client.post(path, data={"csrf_token": "forged"})
            assert r.status_code == 403, (path, r.status_code)
