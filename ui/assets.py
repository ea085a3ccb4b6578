"""The page's static files, shipped in the package (ui/static/), addressed by content:
``/ui/static/<stem>.<hash>.<ext>``. A changed file gets a new URL, so each is cached
for a year as immutable; a stale or unknown hash is a 404, never another version."""

import functools
import hashlib
import mimetypes
from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

PREFIX: Final = "/ui/static/"
HASH_CHARS: Final = 12  # hex digits of SHA-256 in a URL
CACHE_IMMUTABLE: Final = "public, max-age=31536000, immutable"
TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@functools.cache
def _files() -> dict[str, tuple[str, bytes]]:
    """name -> (hashed name, content); read once, on first use (never at import)."""
    found: dict[str, tuple[str, bytes]] = {}
    for entry in resources.files("ui").joinpath("static").iterdir():
        if entry.is_file():
            content = entry.read_bytes()
            stem, dot, ext = entry.name.rpartition(".")
            digest = hashlib.sha256(content).hexdigest()[:HASH_CHARS]
            found[entry.name] = (f"{stem}.{digest}{dot}{ext}", content)
    return found


@functools.cache
def _by_hashed() -> dict[str, tuple[str, bytes]]:
    return {hashed: (name, content) for name, (hashed, content) in _files().items()}


def url(name: str) -> str:
    """The content-addressed URL of a shipped file (templates call it as ``asset``)."""
    return PREFIX + _files()[name][0]


async def serve(request: Request) -> Response:
    found = _by_hashed().get(request.path_params["name"])
    if found is None:
        return PlainTextResponse("no such asset", 404, {"Cache-Control": "no-store"})
    name, content = found
    ext = "." + name.rpartition(".")[2]
    media = TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Cache-Control": CACHE_IMMUTABLE, "X-Content-Type-Options": "nosniff"}
    return Response(content, 200, headers, media)
