"""``/docs`` without the internet: Swagger UI's files come from the fastapi-offline
package (Swagger UI 5, which reads OpenAPI 3.1; swagger-ui-bundle's 4.15 cannot) and are
served here, never from a CDN (FastAPI's default page loads them from one, and is blank
on a machine without access). Only its files are used, not its app factory."""

import functools
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Final

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

DOCS: Final = "/docs"
ASSETS: Final = "/docs/assets/"
# The only files the page needs, with their types; nothing else of the bundle is served.
FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
CACHE: Final = "public, max-age=86400"  # the bundle changes only with the pinned package


@functools.cache
def _content(name: str) -> bytes:
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


def page(title: str, openapi_url: str) -> Callable[[Request], Awaitable[Response]]:
    """The /docs endpoint: one page, built once."""
    html = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - docs",
        swagger_js_url=ASSETS + "swagger-ui-bundle.js",
        swagger_css_url=ASSETS + "swagger-ui.css",
        swagger_favicon_url=ASSETS + "favicon.png",
        # No validator badge: it would send the document to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )

    async def docs(_: Request) -> Response:
        return html

    return docs


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media = FILES.get(name)
    if media is None:
        return PlainTextResponse("not found", 404)
    return Response(_content(name), 200, {"Cache-Control": CACHE}, media)
