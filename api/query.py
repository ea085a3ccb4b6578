"""Query strings, parsed fast (the hot read routes take one on every request)."""

from urllib.parse import parse_qsl


class Query:
    """A query string parsed once. Most are plain ids (no escapes), split without
    parse_qsl; anything escaped goes through parse_qsl exactly as Starlette parses it."""

    __slots__ = ("pairs",)

    def __init__(self, raw: bytes) -> None:
        text = raw.decode("latin-1")
        if "%" in text or "+" in text:
            self.pairs = parse_qsl(text, keep_blank_values=True)
        else:
            self.pairs = [part.partition("=")[::2] for part in text.split("&") if part]

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.pairs:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]
