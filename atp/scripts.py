"""Loads the Lua scripts that sit beside their callers, each with the shared prelude."""

import hashlib
from importlib import resources

_PRELUDE_PACKAGE = "atp.lua"


class Script:
    """A Lua script's source and SHA1; transports send EVALSHA and fall back to EVAL."""

    __slots__ = ("name", "sha", "source")

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


def load_script(package: str, name: str) -> Script:
    """The shared prelude, the package's own ``_prelude.lua`` if it has one, then the script."""
    parts = [resources.files(_PRELUDE_PACKAGE).joinpath("_prelude.lua").read_text()]
    own = resources.files(package).joinpath("_prelude.lua")
    if package != _PRELUDE_PACKAGE and own.is_file():
        parts.append(own.read_text())
    parts.append(resources.files(package).joinpath(f"{name}.lua").read_text())
    return Script(name, "\n".join(parts))
